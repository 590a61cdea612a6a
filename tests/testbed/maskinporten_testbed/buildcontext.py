"""The Docker build context: the repository's files that ``.dockerignore`` lets through, read
the way docker reads it (the image tests check the context; the test bed keys its image cache on
it)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from maskinporten_testbed.repository import REPOSITORY

DOCKERIGNORE = REPOSITORY / ".dockerignore"
SKIPPED = {".git", ".venv", ".mypy_cache", ".ruff_cache", ".pytest_cache"}


def _pattern(glob: str) -> re.Pattern[str]:
    """A .dockerignore pattern (Go's filepath.Match, plus ``**`` for any depth) as a regex."""
    out, i = "", 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out, i = out + "(.*/)?", i + 3
        elif glob.startswith("**", i):
            out, i = out + ".*", i + 2
        elif glob[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif glob[i] == "?":
            out, i = out + "[^/]", i + 1
        elif glob[i] == "[":
            end = glob.index("]", i + 1)
            out, i = out + glob[i : end + 1], end + 1
        else:
            out, i = out + re.escape(glob[i]), i + 1
    return re.compile(out)


@dataclass(frozen=True)
class DockerIgnore:
    rules: tuple[tuple[bool, re.Pattern[str]], ...]

    @classmethod
    def read(cls, path: Path = DOCKERIGNORE) -> DockerIgnore:
        rules = []
        for line in path.read_text().splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            include = line.startswith("!")
            glob = line.removeprefix("!").strip().strip("/")
            rules.append((include, _pattern(glob)))
        return cls(tuple(rules))

    def excludes(self, relative: str) -> bool:
        """Whether the file ``relative`` stays out of the build context: the last rule that
        matches it or one of its parent directories decides."""
        parts = relative.split("/")
        candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        excluded = False
        for include, pattern in self.rules:
            if any(pattern.fullmatch(candidate) for candidate in candidates):
                excluded = not include
        return excluded


def context_files(root: Path = REPOSITORY) -> list[str]:
    """Every file the build context would hold, relative to ``root`` (local tool directories
    such as .git and .venv are skipped unread: the tests check that they are excluded)."""
    ignore = DockerIgnore.read()
    found = []
    for directory, subdirectories, files in os.walk(root):
        subdirectories[:] = [d for d in subdirectories if d not in SKIPPED]
        for name in files:
            relative = (Path(directory) / name).relative_to(root).as_posix()
            if not ignore.excludes(relative):
                found.append(relative)
    return sorted(found)
