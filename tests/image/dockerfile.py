"""Reading the Dockerfile and .dockerignore the way docker does, enough for the image tests
(there is no Docker engine here): instructions by stage, and the build context's files."""

from __future__ import annotations

import json
import re
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from maskinporten_testbed.buildcontext import DockerIgnore, context_files

__all__ = ["DockerIgnore", "context_files"]

REPO = Path(__file__).resolve().parent.parent.parent
DOCKERFILE = REPO / "Dockerfile"


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str

    def words(self) -> list[str]:
        return shlex.split(self.arguments)


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def env(self) -> dict[str, str]:
        variables: dict[str, str] = {}
        for instruction in self.all("ENV"):
            for word in instruction.words():
                name, _, value = word.partition("=")
                variables[name] = value
        return variables

    def exec_form(self, keyword: str) -> list[str]:
        """The JSON array of the stage's one ``keyword`` instruction (ENTRYPOINT, CMD)."""
        (instruction,) = self.all(keyword)
        words: list[str] = json.loads(instruction.arguments)
        return words

    def copies(self) -> list[tuple[list[str], list[str], str]]:
        """(flags, sources, destination) of each COPY."""
        found = []
        for instruction in self.all("COPY"):
            words = instruction.words()
            flags = [w for w in words if w.startswith("--")]
            paths = [w for w in words if not w.startswith("--")]
            found.append((flags, paths[:-1], paths[-1]))
        return found


def instructions(text: str) -> list[Instruction]:
    """Instructions with their line continuations joined and comments dropped."""
    logical: list[str] = []
    current = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        logical.append(current + stripped)
        current = ""
    parsed = []
    for line in logical:
        keyword, _, arguments = line.partition(" ")
        parsed.append(Instruction(keyword.upper(), arguments.strip()))
    return parsed


def stages(path: Path = DOCKERFILE) -> list[Stage]:
    """The stages, each ``FROM`` with the build arguments declared before the first one at
    their defaults (as docker builds it when no ``--build-arg`` is given)."""
    found: list[Stage] = []
    defaults: dict[str, str] = {}
    for instruction in instructions(path.read_text()):
        if instruction.keyword == "ARG" and not found:
            name, _, default = instruction.arguments.partition("=")
            defaults[name] = default
        elif instruction.keyword == "FROM":
            words = instruction.words()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            base = re.sub(r"\$\{?(\w+)\}?", lambda match: defaults[match[1]], words[0])
            found.append(Stage(base=base, name=name))
        else:
            found[-1].instructions.append(instruction)
    return found


def copied_from_build() -> list[tuple[str, str]]:
    """(path in the build stage, path in the image) of what the final stage copies from the
    build stage."""
    return [
        (source, destination)
        for flags, sources, destination in stages()[-1].copies()
        if "--from=build" in flags
        for source in sources
    ]


def copy_build_context(destination: Path, root: Path = REPO) -> list[str]:
    """Copy what the build stage's COPY instructions take from the context into
    ``destination``; return the files copied."""
    build = stages()[0]
    context = context_files(root)
    copied = []
    for flags, sources, _ in build.copies():
        assert not flags, "the build stage copies only from the context"
        for source in sources:
            for relative in context:
                if relative == source or relative.startswith(source.rstrip("/") + "/"):
                    target = destination / relative
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(root / relative, target)
                    copied.append(relative)
    return copied
