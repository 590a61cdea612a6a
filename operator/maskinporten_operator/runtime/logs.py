"""Logging set-up: one line per state change or failure, not per routine refresh."""

from __future__ import annotations

import logging

import kopf

from maskinporten_operator.settings import LogFormat, Settings

ROUTINE_MESSAGES = frozenset({"Handler 'wake_on_change' succeeded."})
"""kopf logs every watch event's handler at INFO; status updates make those routine."""


def _not_routine(record: logging.LogRecord) -> bool:
    return record.getMessage() not in ROUTINE_MESSAGES


def configure_logging(settings: Settings) -> None:
    kopf.configure(
        verbose=settings.log_level == "DEBUG",
        log_format=kopf.LogFormat.JSON
        if settings.log_format is LogFormat.JSON
        else kopf.LogFormat.FULL,
    )
    logging.getLogger().setLevel(settings.log_level)
    if settings.log_level != "DEBUG":
        logging.getLogger("httpx").setLevel(logging.WARNING)
        logging.getLogger("kopf.objects").addFilter(_not_routine)
