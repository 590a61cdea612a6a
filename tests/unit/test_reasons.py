"""The operator's reasons: one vocabulary for conditions, Events, the README and the server."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import maskinporten_operator
from maskinporten_operator.oauth import authserver
from maskinporten_operator.reasons import READY_REASONS, EventType, Reason

README = Path(__file__).resolve().parents[2] / "README.md"
PRODUCT = Path(maskinporten_operator.__file__).parent


def readme_section(title: str) -> str:
    text = README.read_text()
    start = text.index(f"### {title}\n")
    end = text.find("\n#", start + 1)
    return text[start : end if end != -1 else None]


def reasons_listed_in_readme() -> set[str]:
    """The reasons named at the start of each bullet of "Conditions and Events"."""
    bullets = re.findall(r"^- ((?:`\w+`(?:, )?)+)", readme_section("Conditions and Events"), re.M)
    return {name for bullet in bullets for name in re.findall(r"`(\w+)`", bullet)}


def reasons_authserver_can_give() -> set[Reason]:
    """Every ``Reason`` member the authorization server client's source names (wherever it is
    written: ``reason=`` arguments, defaults, conditional choices)."""
    tree = ast.parse(inspect.getsource(authserver))
    return {
        Reason[node.attr]
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == Reason.__name__
    }


def vocabulary_written_as_strings() -> set[tuple[str, str]]:
    """(module, word) for every string literal, in every product module but the vocabulary's
    own, that spells a reason or an Event type."""
    spelled = {str(word) for vocabulary in (Reason, EventType) for word in vocabulary}
    return {
        (str(path.relative_to(PRODUCT)), node.value)
        for path in PRODUCT.rglob("*.py")
        if path != PRODUCT / "reasons.py"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and node.value in spelled
    }


def test_readme_lists_exactly_the_reasons_ready_can_carry() -> None:
    assert reasons_listed_in_readme() == {str(reason) for reason in READY_REASONS}


def test_every_reason_the_authorization_server_client_gives_is_a_ready_reason() -> None:
    given = reasons_authserver_can_give()

    assert given, "no reasons found in oauth/authserver.py"
    assert given <= READY_REASONS


def test_the_product_names_reasons_and_event_types_by_their_members_never_by_strings() -> None:
    assert vocabulary_written_as_strings() == set()


def test_every_reason_is_documented_with_what_happened_and_what_to_do() -> None:
    source = inspect.getsource(Reason)
    documented = re.findall(r'^    (\w+) = "\w+"\n    """', source, re.M)

    assert documented == [reason.name for reason in Reason]


def test_reasons_are_camel_case() -> None:
    assert all(re.fullmatch(r"(?:[A-Z][a-z]+)+", reason) for reason in Reason)
