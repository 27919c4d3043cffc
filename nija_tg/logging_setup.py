"""Logging set up in one place: a redaction filter on every handler."""

from __future__ import annotations

import logging
import sys
import traceback

from nija_tg.redaction import redact

LIBRARY_LOGGERS = ("httpx", "httpcore", "ccxt", "telegram", "apscheduler", "aiosqlite", "asyncio")
# python-telegram-bot logs every raw update at DEBUG, including a message that carries a
# secret before the vault has seen (and registered) it: never below INFO.
FLOOR = {"telegram": logging.INFO}


class RedactingFormatter(logging.Formatter):
    """Formats, then redacts the whole record text, tracebacks included."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))

    def formatException(self, ei) -> str:  # noqa: N802 (logging's name)
        return redact("".join(traceback.format_exception(*ei)))


class RedactingFilter(logging.Filter):
    """Redacts message and args early, so that handlers with their own formatters
    (added later by libraries or tests) never see a secret either."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not kill logging
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)))
            record.exc_info = None
        return True


FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(level: str = "INFO", library_level: str = "WARNING", stream=None) -> None:
    """Root logger to ``stream`` (stderr), redacting, at ``level``."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(RedactingFormatter(FORMAT))
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    root.setLevel(level)
    for name in LIBRARY_LOGGERS:
        level_no = logging.getLevelName(library_level)
        logging.getLogger(name).setLevel(max(level_no, FLOOR.get(name, logging.NOTSET)))


def install_filter_on_all_handlers() -> None:
    """Add the redaction filter to every handler that exists now (e.g. pytest's)."""
    for logger in [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]:
        for handler in getattr(logger, "handlers", []):
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(RedactingFilter())
