"""Scrub secrets out of text before it is logged or shown.

Knows four kinds of secret: Telegram bot tokens (by shape), Fernet tokens and sealed
credential containers (by shape: ciphertext, kept out of logs all the same) and every
value registered here (the vault registers each secret it decrypts or encrypts
in this process, the config registers the bot token and master keys).

The registry keeps no secret in clear. For each registered value it derives the forms
to look for (the value, its base64 / base64url / hex / HEX encodings, and for a
multi-line value such as a PEM key each long line and the body without its header
lines); of each form it keeps only

* three window keys: the process-keyed ``hash()`` of its 6 characters at offsets 0, 1
  and 2, cut to 24 bits (millions of 6-character strings share each key), and
* the HMAC-SHA256 (random per-process key) of the whole form, cut to 16 bytes.

``redact`` looks up the key of the 6-character window at every third position of the
text (a form is at least 8 characters long, so one of its first three positions is
probed): one dict probe per three characters, a cost linear in the text that does not
grow with the number of secrets. Where a key is known it hashes the text at the starts
and lengths registered under that key and compares.

Before the scan the text is put in a canonical view that undoes what commonly splits or
encodes a secret, and the same view is applied to every form at registration: line
breaks (real, or the escaped ``\\n`` / ``\\r`` of a repr or JSON string, with the spaces
and tabs around them) are dropped, so a key wrapped at 64 or 76 columns or with ``\\n``
inserted is found whole; ``%XX`` escapes are decoded, so a URL-encoded value (base64
``+``, ``/``, ``=`` as ``%2B``, ``%2F``, ``%3D``, either case) is found too. A match is
masked over the span of the original text it came from.

The registry is bounded: ``MAX_SECRETS`` values, the least recently registered dropped
first (the vault registers a value again each time it decrypts it). Values registered
with ``pin=True`` are never dropped; ``unregister_secret`` drops one at once.
"""

from __future__ import annotations

import base64
import hmac
import logging
import re
import secrets
import threading
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Iterator

log = logging.getLogger("nija_tg.redaction")
MASK = "[REDACTED]"
_BOT_TOKEN = re.compile(r"(?<![0-9])[0-9]{3,20}:[A-Za-z0-9_-]{30,100}")
_FERNET = re.compile(r"gAAAAA[A-Za-z0-9_=-]{20,}")
_SEALED = re.compile(r'"parts":\{[^{}]*\}')  # nija_tg.vault.sealing containers
_MIN_SECRET_LEN = 8
_MIN_PART_LEN = 16  # a line of a multi-line secret is redacted on its own from this length
MAX_SECRETS = 10_000

_PREFIX = 6  # forms are indexed by their first characters: one dict probe per position
_PREFIX_BITS = 0xFFFFFF  # the prefix key keeps 24 bits of the 64-bit keyed hash
_DIGEST = 16

# What the canonical view drops (line breaks, real or escaped, and the blanks around
# them) or decodes (%XX).
_SEPARATOR = re.compile(r"[ \t]*(?:\r\n|\r|\n|\\r\\n|\\n|\\r)[ \t]*|%[0-9A-Fa-f]{2}")
_LINES = re.compile(r"\r\n|\r|\n|\\r\\n|\\n|\\r")
_PARTS = re.compile(r"\s+|\\r|\\n")

_STRIDE = 3  # = _MIN_SECRET_LEN - _PREFIX + 1: the scan probes every third position
# A value's record: for each of its forms, (window keys at offsets 0..2 packed in one
# int, length, digest), flattened into one tuple.
Record = tuple[int | bytes, ...]


def _scan_order(code: int) -> tuple[int, int]:
    """Codes are ``length << 2 | offset``; at one probe the candidate that starts first
    (largest offset) comes first, then the longest."""
    return -(code & 3), -(code >> 2)


def _maybe_split(text: str) -> bool:
    return "\n" in text or "\r" in text or "\\" in text or "%" in text


def _canonical(text: str) -> tuple[str, list[int], list[tuple[int, int, bool]]]:
    """``text`` without line breaks and with ``%XX`` decoded, and the pieces that map it
    back: ``starts[k]`` is where piece ``k`` begins in the canonical text and
    ``pieces[k]`` is (start, end, literal) in ``text``. A literal piece is copied as is;
    the other kind is one decoded ``%XX``."""
    out: list[str] = []
    starts: list[int] = []
    pieces: list[tuple[int, int, bool]] = []
    pos = at = 0
    for m in _SEPARATOR.finditer(text):
        s, e = m.span()
        if s > pos:
            starts.append(at)
            pieces.append((pos, s, True))
            out.append(text[pos:s])
            at += s - pos
        token = m.group()
        if token[0] == "%":
            starts.append(at)
            pieces.append((s, e, False))
            out.append(chr(int(token[1:], 16)))
            at += 1
        pos = e
    if pos < len(text):
        starts.append(at)
        pieces.append((pos, len(text), True))
        out.append(text[pos:])
    return "".join(out), starts, pieces


def canonical(text: str) -> str:
    """The view of ``text`` that secrets are looked for in (see the module docstring)."""
    return _canonical(text)[0] if _maybe_split(text) else text


def _forms(secret: str) -> set[str]:
    raw = secret.encode()
    hexed = raw.hex()
    forms = {
        secret,
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        hexed,
        hexed.upper(),
    }
    # A multi-line secret (a PEM key) is also redacted line by line, and its body (the
    # lines without the ----- header and footer) wherever it is wrapped differently.
    forms.update(part for part in _PARTS.split(secret) if len(part) >= _MIN_PART_LEN)
    lines = [line.strip() for line in _LINES.split(secret)]
    if len(lines) > 1:
        body = "".join(line for line in lines if line and not line.startswith("-----"))
        if len(body) >= _MIN_PART_LEN:
            forms.add(body)
    return {c for c in map(canonical, forms) if len(c) >= _MIN_SECRET_LEN}


class SecretRegistry:
    """The values to redact, held as prefix keys and keyed hashes only (see the module
    docstring). Thread-safe: writers take a lock; ``redact`` reads without one (its
    reads are single dict look-ups, and the tuples it reads are replaced whole)."""

    def __init__(self, capacity: int = MAX_SECRETS, key: bytes | None = None) -> None:
        self._key = key or secrets.token_bytes(32)
        self._capacity = capacity
        self._lock = threading.Lock()
        # window key -> code (length << 2 | offset) of each form window under it: one
        # int, or a tuple of them in scan order
        self._prefix: dict[int, int | tuple[int, ...]] = {}
        self._digests: dict[bytes, int] = {}  # form digest -> how many values have it
        self._lru: OrderedDict[bytes, Record] = OrderedDict()
        self._pinned: dict[bytes, Record] = {}
        self.evicted = 0
        self._warned = False

    def __len__(self) -> int:
        return len(self._lru) + len(self._pinned)

    @property
    def capacity(self) -> int:
        return self._capacity

    def _mac(self, text: str) -> bytes:
        return hmac.digest(self._key, text.encode("utf-8", "surrogatepass"), "sha256")[:_DIGEST]

    def _id(self, secret: str) -> bytes:
        return self._mac("\x00value\x00" + secret)

    def _record(self, secret: str) -> Record:
        out: list[int | bytes] = []
        for form in _forms(secret):
            keys = 0
            for offset in range(_STRIDE):
                window = form[offset : offset + _PREFIX]
                keys |= (hash(window) & _PREFIX_BITS) << (24 * offset)
            out += (keys, len(form), self._mac(form))
        return tuple(out)

    def register(self, secret: str | None, *, pin: bool = False) -> None:
        if not secret or len(secret) < _MIN_SECRET_LEN:
            return
        ident = self._id(secret)
        with self._lock:
            if ident in self._pinned:
                return
            if ident in self._lru:
                if pin:
                    self._pinned[ident] = self._lru.pop(ident)
                else:
                    self._lru.move_to_end(ident)
                return
            record = self._record(secret)
            self._add(record)
            if pin:
                self._pinned[ident] = record
            else:
                self._lru[ident] = record
                self._evict()
            warn = self.evicted > 0 and not self._warned
            self._warned = self._warned or warn
        if warn:
            log.warning(
                "more than %d secrets registered for redaction: the least recently "
                "registered are no longer redacted",
                self._capacity,
            )

    def unregister(self, secret: str | None) -> bool:
        """Stop redacting ``secret``. False if it was not registered."""
        if not secret:
            return False
        ident = self._id(secret)
        with self._lock:
            record = self._lru.pop(ident, None) or self._pinned.pop(ident, None)
            if record is None:
                return False
            self._drop(record)
            return True

    def set_capacity(self, capacity: int) -> None:
        with self._lock:
            self._capacity = max(0, capacity)
            self._evict()

    def _evict(self) -> None:
        while len(self._lru) > self._capacity:
            self._drop(self._lru.popitem(last=False)[1])
            self.evicted += 1

    def _add(self, record: Record) -> None:
        prefix, digests = self._prefix, self._digests
        for key, code, digest in _windows(record):
            if digest is not None:
                digests[digest] = digests.get(digest, 0) + 1
            held = prefix.get(key)
            if held is None:
                prefix[key] = code
            else:
                codes = (held,) if isinstance(held, int) else held
                prefix[key] = tuple(sorted((*codes, code), key=_scan_order))

    def _drop(self, record: Record) -> None:
        prefix, digests = self._prefix, self._digests
        for key, code, digest in _windows(record):
            if digest is not None:
                left = digests.get(digest, 0) - 1
                if left > 0:
                    digests[digest] = left
                else:
                    digests.pop(digest, None)
            held = prefix.get(key)
            codes = [] if held is None else [held] if isinstance(held, int) else list(held)
            if code in codes:
                codes.remove(code)
            if not codes:
                prefix.pop(key, None)
            else:
                prefix[key] = codes[0] if len(codes) == 1 else tuple(codes)

    def _spans(self, text: str) -> list[tuple[int, int]]:
        """Where registered forms occur in ``text``: (start, end) pairs, in order, not
        overlapping; leftmost first, and the longest form at a position.

        Every form is at least 8 characters long and its windows at offsets 0, 1 and 2
        are indexed, so probing every third position finds each occurrence: one of the
        three first positions of an occurrence is a multiple of three."""
        index, digests, mac = self._prefix, self._digests, self._mac
        bits, width = _PREFIX_BITS, _PREFIX
        spans: list[tuple[int, int]] = []
        n = len(text)
        covered = 0
        for p in range(0, n - width + 1, _STRIDE):
            codes = index.get(hash(text[p : p + width]) & bits)
            if codes is None:
                continue
            if codes.__class__ is int:
                codes = (codes,)
            for code in codes:  # start ascending, then longest first
                start, stop = p - (code & 3), p - (code & 3) + (code >> 2)
                if start < covered or start < 0 or stop > n:
                    continue
                if mac(text[start:stop]) in digests:
                    spans.append((start, stop))
                    covered = stop
        return spans

    def redact_known(self, text: str) -> str:
        if not self._prefix or len(text) < _MIN_SECRET_LEN:
            return text
        if not _maybe_split(text):
            spans = self._spans(text)
        else:
            view, starts, pieces = _canonical(text)
            spans = [_original(a, b, starts, pieces) for a, b in self._spans(view)]
        if not spans:
            return text
        parts: list[str] = []
        last = 0
        for a, b in spans:
            parts.append(text[last:a])
            parts.append(MASK)
            last = b
        parts.append(text[last:])
        return "".join(parts)


def _windows(record: Record) -> Iterator[tuple[int, int, bytes | None]]:
    """(window key, code, digest) of each indexed window of a record; the digest of a
    form comes with its first window only."""
    for i in range(0, len(record), 3):
        keys, length, digest = record[i : i + 3]
        assert isinstance(keys, int) and isinstance(length, int) and isinstance(digest, bytes)
        for offset in range(_STRIDE):
            key = (keys >> (24 * offset)) & _PREFIX_BITS
            yield key, length << 2 | offset, digest if offset == 0 else None


def _original(
    a: int, b: int, starts: list[int], pieces: list[tuple[int, int, bool]]
) -> tuple[int, int]:
    """The span of the original text that canonical positions [a, b) came from."""
    k = bisect_right(starts, a) - 1
    start, _, literal = pieces[k]
    first = start + (a - starts[k]) if literal else start
    k = bisect_right(starts, b - 1) - 1
    start, stop, literal = pieces[k]
    last = start + (b - starts[k]) if literal else stop
    return first, last


# Logging is process-global, so this registry is too.
_registry = SecretRegistry()


def register_secret(secret: str | None, *, pin: bool = False) -> None:
    """Redact ``secret`` (and its encoded, URL-encoded and line-wrapped forms) from now
    on. Short values are ignored: masking every 'abc' in the logs would hide more than it
    protects. ``pin``: never drop it to make room (configuration secrets)."""
    _registry.register(secret, pin=pin)


def unregister_secret(secret: str | None) -> bool:
    """Stop redacting ``secret`` (a revoked or erased credential)."""
    return _registry.unregister(secret)


def registry() -> SecretRegistry:
    """The process-wide registry (for its size and eviction count)."""
    return _registry


def redact(text: str) -> str:
    """``text`` with every known secret replaced by ``[REDACTED]``."""
    if not text:
        return text
    text = _registry.redact_known(text)
    text = _BOT_TOKEN.sub(MASK, text)
    text = _SEALED.sub(f'"parts":{MASK}', text)
    return _FERNET.sub(MASK, text)


def mask_tail(value: str, keep: int = 4) -> str:
    """``••••abcd``: never more than the last ``keep`` characters."""
    value = value.strip()
    if len(value) <= keep * 2:
        return "••••"
    return "••••" + value[-keep:]
