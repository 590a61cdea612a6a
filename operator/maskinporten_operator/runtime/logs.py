"""Logging set-up: one line per state change or failure, not per routine refresh.

kopf's own per-object INFO lines (a handler succeeded) are routine, so its ``kopf.objects``
logger is kept at WARNING outside DEBUG; the operator's own lines come from
:func:`maskinporten_operator.runtime.apply.resource_logger`, which names the resource in text
(``[namespace/name]`` prefix) and JSON (``object``) alike.
"""

from __future__ import annotations

import logging

import kopf

from maskinporten_operator.settings import LogFormat, Settings


def configure_logging(settings: Settings) -> None:
    kopf.configure(
        verbose=settings.log_level == "DEBUG",
        log_format=kopf.LogFormat.JSON
        if settings.log_format is LogFormat.JSON
        else kopf.LogFormat.FULL,
        log_prefix=settings.log_format is not LogFormat.JSON,
    )
    logging.getLogger().setLevel(settings.log_level)
    if settings.log_level != "DEBUG":
        logging.getLogger("httpx").setLevel(logging.WARNING)
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
