"""The Telegram front end: one feature per module; ``register_all`` composes them.

Handler groups run in order: -2 the secret guard (deletes a pasted key before anything
else, database work included), -1 the gatekeeper (who is this?), 0 the features, the
fallback last in group 0.
"""

from __future__ import annotations

from telegram.ext import Application

from nija_tg.handlers import (
    admin,
    connect,
    errors,
    fallback,
    gatekeeper,
    keyboard,
    reports,
    secret_guard,
    settings,
    start,
    trading,
)
from nija_tg.handlers.update_processor import PerUserUpdateProcessor

FEATURES = (start, connect, trading, reports, settings, admin, keyboard)
SECRET_GUARD_GROUP = -2
GATEKEEPER_GROUP = -1


def register_all(app: Application) -> None:
    if isinstance(app.update_processor, PerUserUpdateProcessor):
        app.update_processor.bind(app)
    app.add_handler(secret_guard.handler(), group=SECRET_GUARD_GROUP)
    app.add_handler(gatekeeper.handler(), group=GATEKEEPER_GROUP)
    for feature in FEATURES:
        app.add_handlers(feature.handlers())
    app.add_handlers(fallback.handlers())  # last in group 0: only what nothing else took
    app.add_error_handler(errors.on_error)
