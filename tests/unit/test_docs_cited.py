"""The facts the code cites live in the repository: every ``docs/<file>.md`` named in a docstring
or comment under ``operator/`` exists, and every section named after it (``docs/x.md`` section
"Name", or sections "A" and "B") is a heading of that file."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SOURCES = ROOT / "operator"

CITATION = re.compile(
    r"(?<![\w/])docs/(?P<file>[\w.-]+\.md)`*"
    r"(?P<sections>(?:[\s,#]*(?:sections?|and)?[\s,#]*\"[^\"\n]+\")*)"
)
"""A cited file, then the quoted section names that follow it (across docstring lines and
``#`` comment lines, separated by commas, "section(s)" and "and")."""
HEADING = re.compile(r"^#{1,6} +(.+?) *$", re.M)


@dataclass(frozen=True)
class Citation:
    file: str
    section: str | None
    where: str


def citations_in(text: str, where: str) -> Iterator[Citation]:
    for match in CITATION.finditer(text):
        line = f"{where}:{text.count(chr(10), 0, match.start()) + 1}"
        sections = re.findall(r"\"([^\"\n]+)\"", match["sections"]) or [None]
        for section in sections:
            yield Citation(match["file"], section, line)


def operator_citations() -> list[Citation]:
    return [
        citation
        for path in sorted(SOURCES.rglob("*.py"))
        for citation in citations_in(path.read_text(), str(path.relative_to(ROOT)))
    ]


def unresolved(citations: Iterable[Citation], docs: Path) -> list[str]:
    """Each citation whose file is missing or whose section is not a heading of the file."""
    problems = []
    for citation in citations:
        path = docs / citation.file
        if not path.is_file():
            problems.append(f"{citation.where}: no docs/{citation.file}")
        elif citation.section and citation.section not in HEADING.findall(path.read_text()):
            problems.append(f'{citation.where}: no "{citation.section}" in docs/{citation.file}')
    return problems


def test_every_citation_under_operator_resolves() -> None:
    assert unresolved(operator_citations(), DOCS) == []


def test_the_operator_cites_the_maskinporten_facts_by_section() -> None:
    cited = {(c.file, c.section) for c in operator_citations()}
    assert ("maskinporten-facts.md", "Self-service API") in cited


@pytest.mark.parametrize(
    ("text", "cited"),
    [
        ('Source: ``docs/a.md`` section "One".', [("a.md", "One")]),
        ('(``docs/a.md``, "One"):', [("a.md", "One")]),
        ('``docs/a.md`` sections "One" and\n    "Two" (more)', [("a.md", "One"), ("a.md", "Two")]),
        ('# see docs/a.md section\n# "One"', [("a.md", "One")]),
        ('(see ``docs/a.md``),\nanswers "quoted"', [("a.md", None)]),
        ("hack/docs/a.md and adocs/b.md", []),
    ],
)
def test_a_citation_names_its_file_and_every_section_quoted_after_it(
    text: str, cited: list[tuple[str, str | None]]
) -> None:
    assert [(c.file, c.section) for c in citations_in(text, "x.py")] == cited


def test_a_citation_of_a_missing_file_is_unresolved(tmp_path: Path) -> None:
    assert unresolved([Citation("absent.md", None, "x.py:1")], tmp_path) == [
        "x.py:1: no docs/absent.md"
    ]


def test_a_citation_of_a_section_that_is_no_heading_is_unresolved(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# Title\n\nSelf-service API is mentioned, not a heading.\n")
    assert unresolved([Citation("a.md", "Self-service API", "x.py:1")], tmp_path) == [
        'x.py:1: no "Self-service API" in docs/a.md'
    ]


def test_a_citation_of_a_heading_resolves(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# Title\n\n## Self-service API\n\ntext\n")
    assert unresolved([Citation("a.md", "Self-service API", "x.py:1")], tmp_path) == []
