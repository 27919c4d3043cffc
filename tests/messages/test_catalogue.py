"""docs/messages.md is every event rendered with sample data (generated): a wording
change shows in its diff. Regenerate with
``.venv/bin/python -m nija_tg.messages.catalogue > docs/messages.md``."""

from __future__ import annotations

import typing

from nija_tg.core import events as ev
from nija_tg.messages.catalogue import SAMPLES, catalogue
from tests.conftest import REPO
from tests.test_layers import offenders

REGENERATE = ".venv/bin/python -m nija_tg.messages.catalogue > docs/messages.md"


def test_docs_messages_md_is_the_rendered_catalogue():
    stored = (REPO / "docs" / "messages.md").read_text()
    assert stored == catalogue(), f"docs/messages.md is stale: run `{REGENERATE}`"


def test_the_catalogue_renders_every_event_type():
    every = set(typing.get_args(ev.Event))
    assert every <= {type(e) for _, e in SAMPLES}


def test_the_renderer_imports_only_the_pure_core():
    forbidden = (
        "nija_tg.storage",
        "nija_tg.vault",
        "nija_tg.exchange",
        "nija_tg.services",
        "nija_tg.handlers",
        "nija_tg.engine",
        "nija_tg.telegram_out",
        "telegram",
        "ccxt",
        "asyncio",
        "sqlite3",
    )
    assert offenders("messages", forbidden) == {}


def test_every_event_kind_is_an_outbox_kind_the_preferences_know():
    from nija_tg.storage.outbox import ALWAYS, KIND_GROUP

    for title, event in SAMPLES:
        assert event.kind in KIND_GROUP or event.kind in ALWAYS, title
