"""docs/messages.md renders every report: each public function of the report renderer
modules that returns text is called there with sample data, and every sample's HTML
holds only the tags Telegram's HTML mode allows (names and free text arrive escaped)."""

from __future__ import annotations

import inspect
import re
from html.parser import HTMLParser

import pytest

from nija_tg.messages import disconnect
from nija_tg.messages.catalogue import catalogue
from nija_tg.messages.report_catalogue import MODULES, REPORT_SAMPLES, fixed_texts

ALLOWED_TAGS = {"b", "i", "code", "pre"}


def text_functions() -> set[object]:
    found = set()
    for module in MODULES:
        for name, fn in vars(module).items():
            if name.startswith("_") or not inspect.isfunction(fn):
                continue
            if fn.__module__ != module.__name__:
                continue
            if inspect.signature(fn).return_annotation in ("str", "str | None"):
                found.add(fn)
    return found


def test_every_report_renderer_is_in_the_catalogue():
    shown = {sample.fn for sample in REPORT_SAMPLES}
    missing = sorted(f"{f.__module__}.{f.__name__}" for f in text_functions() - shown)
    assert missing == []


def test_the_catalogue_holds_the_reports_and_fixed_texts():
    doc = catalogue()
    for sample in REPORT_SAMPLES:
        assert sample.text() in doc, sample.title
    for module, name, _ in fixed_texts():
        assert f"`{module}.{name}`" in doc


class TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append(tag)


@pytest.mark.parametrize("sample", REPORT_SAMPLES, ids=lambda s: f"{s.section}: {s.title}")
def test_each_sample_is_telegram_html_with_the_odd_names_escaped(sample):
    text = sample.text()
    parser = TagCollector()
    parser.feed(text)
    assert set(parser.tags) <= ALLOWED_TAGS, parser.tags
    assert "<b>\u202e" not in text and "\u202e🚀</b>" not in text  # the hostile name
    assert len(text) <= 4096 or sample.section.startswith("/balance")


def test_hostile_names_are_escaped_and_control_characters_replaced():
    doc = catalogue()
    assert "Zoë &lt;b&gt;?🚀&lt;/b&gt; &amp; co" in doc  # /users, /user, headings
    assert "drawdown &lt;b&gt;20%&lt;/b&gt; &amp; more" in doc


def test_the_catalogue_shows_no_template_with_its_blanks_unfilled():
    """A template (``connect.DISCONNECT_CONFIRM``: "This erases {what} here") appears
    only filled in by its renderer's samples, never with its ``{blanks}``."""
    doc = catalogue()
    assert re.findall(r"\{[A-Za-z_][A-Za-z0-9_]*\}", doc) == []
    assert disconnect.question("kraken", "••••Ab3d") in doc
    assert "This erases your <b>kraken</b> key ••••Ab3d here" in doc
