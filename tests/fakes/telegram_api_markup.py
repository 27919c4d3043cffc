"""Formatting-option parsers of the fake Telegram Bot API (HTML, MarkdownV2, Markdown).

Each parser turns the text into ``(plain_text, entities)`` or raises
``Bad Request: can't parse entities: ...`` the way Telegram does for unbalanced or
unknown HTML tags and unescaped MarkdownV2 reserved characters. The rules follow the Bot
API "Formatting options" section; corner cases Telegram accepts silently (a bare ``&`` or
``>`` in HTML) are accepted here too. Entity offsets and lengths are in UTF-16 units.
"""

from __future__ import annotations

import html
import re
from typing import Any

from tests.fakes.telegram_api_wire import ApiError, bad_request, utf16_len

MDV2_RESERVED = "_*[]()~`>#+-=|{}.!"

_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_START_TAG = re.compile(
    r"<([A-Za-z][A-Za-z0-9-]*)((?:\s+[A-Za-z-]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>\"']+))?)*)\s*>"
)
_ATTR = re.compile(r"([A-Za-z-]+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>\"']+)))?")
_END_TAG = re.compile(r"</([A-Za-z][A-Za-z0-9-]*)?\s*>")
_HTML_ENTITY = re.compile(r"&(#[0-9]{1,7}|#x[0-9A-Fa-f]{1,6}|lt|gt|amp|quot);")


def _parse_error(detail: str) -> ApiError:
    return bad_request(f"can't parse entities: {detail}")


class _Builder:
    """Collects plain text and entities with UTF-16 offsets."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pos16 = 0
        self.entities: list[dict[str, Any]] = []

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.pos16 += utf16_len(text)

    def entity(self, etype: str, start16: int, **extra: Any) -> None:
        if self.pos16 > start16:
            self.entities.append(
                {"type": etype, "offset": start16, "length": self.pos16 - start16, **extra}
            )

    def result(self) -> tuple[str, list[dict[str, Any]]]:
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.parts), self.entities


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram HTML; raise on unknown or unbalanced tags."""
    out = _Builder()
    stack: list[tuple[str, int, dict[str, str], int]] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "&":
            m = _HTML_ENTITY.match(text, i)
            if m:
                out.add(html.unescape(m.group(0)))
                i = m.end()
                continue
            out.add(c)
            i += 1
        elif c == "<" and text.startswith("</", i):
            m = _END_TAG.match(text, i)
            offset = _byte_offset(text, i)
            if not m:
                raise _parse_error(f"Unclosed end tag at byte offset {offset}")
            name = (m.group(1) or "").lower()
            if not stack:
                raise _parse_error(f"Unexpected end tag at byte offset {offset}")
            tag, start16, attrs, _ = stack[-1]
            if name and name != tag:
                raise _parse_error(
                    f'Unmatched end tag at byte offset {offset}, expected "</{tag}>", '
                    f'found "</{name}>"'
                )
            stack.pop()
            _close_html(out, tag, start16, attrs, stack)
            i = m.end()
        elif c == "<":
            m = _START_TAG.match(text, i)
            offset = _byte_offset(text, i)
            if not m:
                raise _parse_error(f'Unsupported start tag "" at byte offset {offset}')
            name = m.group(1).lower()
            if name not in _HTML_TAGS:
                raise _parse_error(f'Unsupported start tag "{name}" at byte offset {offset}')
            attrs = {
                a.group(1).lower(): html.unescape(a.group(2) or a.group(3) or a.group(4) or "")
                for a in _ATTR.finditer(m.group(2))
            }
            if name == "span" and attrs.get("class") != "tg-spoiler":
                raise _parse_error(
                    f'Tag "span" must have class "tg-spoiler" at byte offset {offset}'
                )
            stack.append((name, out.pos16, attrs, offset))
            i = m.end()
        else:
            out.add(c)
            i += 1
    if stack:
        raise _parse_error(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return out.result()


def _close_html(
    out: _Builder, tag: str, start16: int, attrs: dict[str, str], stack: list[Any]
) -> None:
    etype = _HTML_TAGS[tag]
    if etype == "text_link":
        if attrs.get("href"):
            out.entity("text_link", start16, url=attrs["href"])
    elif etype == "custom_emoji":
        out.entity("custom_emoji", start16, custom_emoji_id=attrs.get("emoji-id", ""))
    elif etype == "code" and stack and stack[-1][0] == "pre" and "class" in attrs:
        language = attrs["class"].removeprefix("language-")
        out.entity("pre", start16, language=language)
    elif etype == "pre" and any(
        e["type"] == "pre" and e["offset"] == start16 for e in out.entities
    ):
        return  # <pre><code class="language-x"> already produced the pre entity
    elif etype == "blockquote" and "expandable" in attrs:
        out.entity("expandable_blockquote", start16)
    else:
        out.entity(etype, start16)


_MDV2_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
}


def _mdv2_closes(etype: str, c: str, nxt: str) -> bool:
    return (
        (etype == "bold" and c == "*")
        or (etype == "italic" and c == "_" and nxt != "_")
        or (etype == "underline" and c == "_" and nxt == "_")
        or (etype == "strikethrough" and c == "~")
        or (etype == "spoiler" and c == "|" and nxt == "|")
        or (etype in ("text_link", "custom_emoji") and c == "]")
    )


def _read_until(text: str, i: int, end: str, what: str, offset: int) -> tuple[str, int]:
    """Read escaped content up to the unescaped ``end``; return (content, index after)."""
    parts: list[str] = []
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            parts.append(text[i + 1])
            i += 2
        elif text.startswith(end, i):
            return "".join(parts), i + len(end)
        else:
            parts.append(text[i])
            i += 1
    raise _parse_error(f"Can't find end of {what} entity at byte offset {offset}")


def parse_markdown_v2(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse MarkdownV2; raise on unescaped reserved characters or unclosed entities."""
    out = _Builder()
    stack: list[tuple[str, int, int]] = []
    quote_start: int | None = None
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        nxt = text[i + 1] if i + 1 < n else ""
        if c == "\\" and nxt and 0 < ord(nxt) <= 126:
            out.add(nxt)
            i += 2
            continue
        if c == "\n" and quote_start is not None and not text.startswith(">", i + 1):
            out.entity("blockquote", quote_start)
            quote_start = None
        if c not in MDV2_RESERVED:
            out.add(c)
            i += 1
            continue
        offset = _byte_offset(text, i)
        if stack and _mdv2_closes(stack[-1][0], c, nxt):
            etype, start16, start_off = stack.pop()
            i += 2 if etype in ("underline", "spoiler") else 1
            if etype in ("text_link", "custom_emoji"):
                i = _mdv2_link_target(out, text, i, etype, start16, start_off)
            else:
                out.entity(etype, start16)
            continue
        if c == "_":
            etype = "underline" if nxt == "_" else "italic"
            stack.append((etype, out.pos16, offset))
            i += 2 if etype == "underline" else 1
        elif c in "*~[":
            etype = {"*": "bold", "~": "strikethrough", "[": "text_link"}[c]
            stack.append((etype, out.pos16, offset))
            i += 1
        elif c == "|" and nxt == "|":
            stack.append(("spoiler", out.pos16, offset))
            i += 2
        elif c == "!" and nxt == "[":
            stack.append(("custom_emoji", out.pos16, offset))
            i += 2
        elif c == "`" and text.startswith("```", i):
            body, i = _read_until(text, i + 3, "```", "Pre", offset)
            language = ""
            if "\n" in body:
                first, rest = body.split("\n", 1)
                if first and " " not in first:
                    language, body = first, rest
            start16 = out.pos16
            out.add(body)
            out.entity("pre", start16, **({"language": language} if language else {}))
        elif c == "`":
            body, i = _read_until(text, i + 1, "`", "Code", offset)
            start16 = out.pos16
            out.add(body)
            out.entity("code", start16)
        elif c == ">" and (i == 0 or text[i - 1] == "\n"):
            if quote_start is None:
                quote_start = out.pos16
            i += 1
        else:
            raise _parse_error(
                f"Character '{c}' is reserved and must be escaped with the preceding '\\'"
            )
    if stack:
        etype, _, start_off = stack[-1]
        raise _parse_error(
            f"Can't find end of {_MDV2_NAMES[etype]} entity at byte offset {start_off}"
        )
    if quote_start is not None:
        out.entity("blockquote", quote_start)
    return out.result()


def _mdv2_link_target(
    out: _Builder, text: str, i: int, etype: str, start16: int, start_off: int
) -> int:
    if not text.startswith("(", i):
        if etype == "custom_emoji":
            raise _parse_error(
                f"Custom emoji entity must contain a tg://emoji URL at byte offset {start_off}"
            )
        return i  # "[text]" without a URL stays plain text
    url, i = _read_until(text, i + 1, ")", "TextUrl", start_off)
    if etype == "custom_emoji":
        emoji_id = url.partition("id=")[2]
        out.entity("custom_emoji", start16, custom_emoji_id=emoji_id)
    else:
        out.entity("text_link", start16, url=url)
    return i


_LEGACY = {"*": "bold", "_": "italic", "`": "code"}


def parse_markdown(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse legacy Markdown (``*bold*``, ``_italic_``, `` `code` ``, ``[t](url)``)."""
    out = _Builder()
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and text[i + 1] in "_*`[":
            out.add(text[i + 1])
            i += 2
            continue
        if c not in "_*`[":
            out.add(c)
            i += 1
            continue
        offset = _byte_offset(text, i)
        missing = f"Can't find end of the entity starting at byte offset {offset}"
        if text.startswith("```", i):
            end = text.find("```", i + 3)
            if end < 0:
                raise _parse_error(missing)
            start16 = out.pos16
            out.add(text[i + 3 : end])
            out.entity("pre", start16)
            i = end + 3
        elif c == "[":
            m = re.compile(r"\[([^\]]*)\]\(([^)]*)\)").match(text, i)
            if not m:
                raise _parse_error(missing)
            start16 = out.pos16
            out.add(m.group(1))
            out.entity("text_link", start16, url=m.group(2))
            i = m.end()
        else:
            end = text.find(c, i + 1)
            if end < 0:
                raise _parse_error(missing)
            start16 = out.pos16
            out.add(text[i + 1 : end])
            out.entity(_LEGACY[c], start16)
            i = end + 1
    return out.result()


def parse_text(text: str, parse_mode: str | None) -> tuple[str, list[dict[str, Any]]]:
    """Plain text and entities for ``parse_mode`` (None/empty: text as is)."""
    mode = (parse_mode or "").strip().lower()
    if not mode:
        return text, []
    if mode == "html":
        return parse_html(text)
    if mode == "markdownv2":
        return parse_markdown_v2(text)
    if mode == "markdown":
        return parse_markdown(text)
    raise bad_request(f"unsupported parse_mode {parse_mode}")
