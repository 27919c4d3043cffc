"""The text of a stored outbox row, rendered when the bot's sender sends it: an event
row (its type name and JSON payload, ``core.events_codec``) through the one renderer
(``messages.render``); a row queued as text (before migration 12, or by
``storage.outbox.enqueue``) is its text.

A row that cannot be rendered (an unknown type, a bad payload, a renderer bug) raises
``Unrenderable``, whose message names the row's type and field but no value, so it can
be logged (a payload may hold what a user typed)."""

from __future__ import annotations

from nija_tg.core.events_codec import EventDecodeError, loads
from nija_tg.messages.render import render


class Unrenderable(ValueError):
    """A stored event this version cannot turn into text (the row is dropped)."""


def stored_text(text: str, event_type: str | None, payload: str | None) -> str:
    """What the user reads for a row holding ``text`` or the event ``event_type``."""
    if event_type is None:
        return text
    try:
        event = loads(event_type, payload if payload is not None else "")
    except EventDecodeError as exc:
        raise Unrenderable(f"cannot read it: {exc}") from None
    except Exception as exc:  # a codec bug
        raise Unrenderable(f"{event_type}: reading failed ({type(exc).__name__})") from None
    try:
        rendered = render(event)
    except Exception as exc:  # a renderer bug: the row must not be retried forever
        raise Unrenderable(f"{event_type}: rendering failed ({type(exc).__name__})") from None
    if not isinstance(rendered, str) or not rendered.strip():
        raise Unrenderable(f"{event_type}: rendered to nothing")
    return rendered
