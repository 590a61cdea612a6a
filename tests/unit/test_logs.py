"""Log lines about a resource say which one, in text and JSON alike; kopf's chatter is quiet."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from maskinporten_operator.reconcile.effects import ClientRef
from maskinporten_operator.runtime.apply import resource_logger
from maskinporten_operator.runtime.logs import configure_logging
from maskinporten_operator.settings import LogFormat, Settings

REF = ClientRef("payroll-team", "payroll", "uid-1", 1)


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    objects_level = logging.getLogger("kopf.objects").level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("kopf.objects").setLevel(objects_level)


def formatted(settings: Settings) -> str:
    configure_logging(settings)
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "%s again", ("Rejected",), None)
    adapter = resource_logger(REF)
    _, extra = adapter.process("", {})
    record.__dict__.update(extra["extra"])
    [formatter] = [h.formatter for h in logging.getLogger().handlers if "Kopf" in type(h).__name__]
    assert formatter is not None
    return formatter.format(record)


def test_text_lines_name_the_resource() -> None:
    assert "[payroll-team/payroll] Rejected again" in formatted(Settings())


def test_json_lines_name_the_resource() -> None:
    line = json.loads(formatted(Settings(log_format=LogFormat.JSON)))

    assert line["object"] == {"namespace": "payroll-team", "name": "payroll"}
    assert line["message"] == "Rejected again"


def test_kopfs_routine_lines_are_not_logged_outside_debug() -> None:
    configure_logging(Settings())

    assert not logging.getLogger("kopf.objects").isEnabledFor(logging.INFO)
    assert logging.getLogger("kopf.objects").isEnabledFor(logging.WARNING)


def test_debug_logs_kopfs_routine_lines_too() -> None:
    configure_logging(Settings(log_level="DEBUG"))

    assert logging.getLogger("kopf.objects").isEnabledFor(logging.INFO)
