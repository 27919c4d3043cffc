"""Logging set up in one place: a redaction filter on every handler."""

from __future__ import annotations

import logging
import sys
import traceback

from nija_tg.redaction import redact

LIBRARY_LOGGERS = (
    "httpx",
    "httpcore",
    "ccxt",
    "aiohttp.client",
    "urllib3",
    "telegram",
    "apscheduler",
    "aiosqlite",
    "asyncio",
)
# Never below INFO, whatever NIJA_LIBRARY_LOG_LEVEL says: at DEBUG these log what goes
# over the wire, secrets included. ccxt logs request headers (a Coinbase bearer JWT,
# signatures), the HTTP clients log headers and bodies, python-telegram-bot logs every
# raw update, including a message that carries a key before anything registered it.
WIRE_LOGGERS = ("ccxt", "httpx", "httpcore", "aiohttp.client", "urllib3", "telegram")
FLOOR = dict.fromkeys(WIRE_LOGGERS, logging.INFO)


def _is_wire(name: str) -> bool:
    return any(name == w or name.startswith(w + ".") for w in WIRE_LOGGERS)


class RedactingFormatter(logging.Formatter):
    """Formats, then redacts the whole record text, tracebacks included."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))

    def formatException(self, ei) -> str:  # noqa: N802 (logging's name)
        return redact("".join(traceback.format_exception(*ei)))


class RedactingFilter(logging.Filter):
    """Redacts message and args early, so that handlers with their own formatters
    (added later by libraries or tests) never see a secret either; drops DEBUG records
    of the wire loggers (``WIRE_LOGGERS``) whatever their level was set to."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.INFO and _is_wire(record.name):
            return False  # a logger set lower after setup (by a library, say) still stops
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
    # the product's loggers follow the root (a level left on "nija_tg" by an embedding
    # program, e.g. a benchmark run in-process, would hide lines asked for here)
    logging.getLogger("nija_tg").setLevel(logging.NOTSET)
    for name in LIBRARY_LOGGERS:
        level_no = logging.getLevelName(library_level)
        logging.getLogger(name).setLevel(max(level_no, FLOOR.get(name, logging.NOTSET)))


def install_filter_on_all_handlers() -> None:
    """Add the redaction filter to every handler that exists now (e.g. pytest's)."""
    for logger in [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]:
        for handler in getattr(logger, "handlers", []):
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(RedactingFilter())
