"""Scrub secrets out of text before it is logged or shown.

Knows three kinds of secret: Telegram bot tokens (by shape), Fernet tokens (by shape)
and every exact value registered here (the vault registers each secret it decrypts or
encrypts in this process, the config registers the bot token and master keys).
Logging is process-global, so this registry is too; it only ever grows.
"""

from __future__ import annotations

import base64
import bisect
import re
import threading

MASK = "[REDACTED]"
_BOT_TOKEN = re.compile(r"(?<![0-9])[0-9]{3,20}:[A-Za-z0-9_-]{30,100}")
_FERNET = re.compile(r"gAAAAA[A-Za-z0-9_=-]{20,}")
_MIN_SECRET_LEN = 8

_PREFIX = 6  # secrets are indexed by their first characters: one dict probe per position
_lock = threading.Lock()
_by_prefix: dict[str, tuple[str, ...]] = {}


def _forms(secret: str) -> set[str]:
    raw = secret.encode()
    forms = {
        secret,
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        raw.hex(),
    }
    # A multi-line secret (a PEM key) is also redacted line by line.
    forms.update(part for part in secret.split() if len(part) >= 16)
    return {f for f in forms if len(f) >= _MIN_SECRET_LEN}


def _longest_first(form: str) -> int:
    return -len(form)


def register_secret(secret: str | None) -> None:
    """Redact ``secret`` (and its base64/hex forms) from now on. Short values are
    ignored: masking every 'abc' in the logs would hide more than it protects."""
    if not secret or len(secret) < _MIN_SECRET_LEN:
        return
    with _lock:
        for form in _forms(secret):
            key = form[:_PREFIX]
            known = list(_by_prefix.get(key, ()))
            if form not in known:
                bisect.insort(known, form, key=_longest_first)  # longest match wins
                _by_prefix[key] = tuple(known)


def _redact_known(text: str) -> str:
    index = _by_prefix
    parts: list[str] = []
    i = last = 0
    end = len(text) - _PREFIX
    while i <= end:
        candidates = index.get(text[i : i + _PREFIX])
        if candidates:
            for secret in candidates:
                if text.startswith(secret, i):
                    parts.append(text[last:i])
                    parts.append(MASK)
                    i = last = i + len(secret)
                    break
            else:
                i += 1
        else:
            i += 1
    if not parts:
        return text
    parts.append(text[last:])
    return "".join(parts)


def redact(text: str) -> str:
    """``text`` with every known secret replaced by ``[REDACTED]``."""
    if not text:
        return text
    if _by_prefix:
        text = _redact_known(text)
    text = _BOT_TOKEN.sub(MASK, text)
    return _FERNET.sub(MASK, text)


def mask_tail(value: str, keep: int = 4) -> str:
    """``••••abcd``: never more than the last ``keep`` characters."""
    value = value.strip()
    if len(value) <= keep * 2:
        return "••••"
    return "••••" + value[-keep:]
