"""The Telegram front end: one feature per module; ``register_all`` composes them."""

from __future__ import annotations

from telegram.ext import Application

from nija_tg.handlers import (
    admin,
    connect,
    errors,
    fallback,
    gatekeeper,
    reports,
    settings,
    start,
    trading,
)

FEATURES = (start, connect, trading, reports, settings, admin)


def register_all(app: Application) -> None:
    app.add_handler(gatekeeper.handler(), group=-1)
    for feature in FEATURES:
        app.add_handlers(feature.handlers())
    app.add_handlers(fallback.handlers())  # last in group 0: only what nothing else took
    app.add_error_handler(errors.on_error)
