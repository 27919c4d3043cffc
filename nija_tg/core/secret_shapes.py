"""Does a chat message look like it carries an API key or secret? Pure: no I/O.

The bot deletes such a message wherever it arrives outside the /connect credential step
and tells its sender to revoke the key, so the rule errs towards "secret" for long random
tokens while ordinary commands and chat must pass.

The rule, on the message text (or caption):

* **PEM private key**: ``-----BEGIN <anything> PRIVATE KEY`` (three or more dashes, any
  case: RSA, EC, OPENSSH, PKCS#8...). Coinbase's CDP keys come in this form.
* **Long token**: the text is split at whitespace; words that are URLs (contain ``://``
  or start with ``www.`` / ``t.me/``) are skipped. In every other word each maximal run
  of the base64 / base64url alphabet ``[A-Za-z0-9+/=_-]`` is a candidate; leading ``/``
  are ignored (a pasted base64 key starts with "/" one time in 64, and Telegram then
  shows it as a command). A candidate of at least 24 characters is a secret when

  1. it mixes upper case, lower case and (a digit or ``+``): base64, base64url and
     mixed-case alphanumeric keys (Kraken, Binance, BingX, Bybit secrets, JWTs, bot
     tokens);
  2. or, without ``-`` separators and a ``0x`` prefix, it is at least 24 hexadecimal
     digits with at least one digit and one letter: hex keys, UUIDs (OKX, KuCoin),
     private keys of wallets;
  3. or it is at least 32 characters of which at least 20% are digits and at least 20%
     letters: single-case random keys (base32 / base36).

What passes: commands and their arguments (``/set max_position_usd 250``, ``/pairs add
SOL``, ``/grant 111 222``, ``/bound allowed_pairs BTC,ETH 12345``), numbers of any length
(no letters), words, snake_case and dotted setting names (no digit, or fewer than 20%),
CamelCase without digits, and URLs (admins broadcast links).

Known misses: keys shorter than 24 characters (Coinbase's legacy 16-character key,
Bybit's 18-character key, passphrases), 24..39-character base64 tokens that happen to
hold no digit and no ``+`` (about 2% at 24 characters, under 0.1% at 40), seed phrases,
and keys inside URLs. Known false alarms: long mixed-case identifiers with digits
(``Screenshot_2024-01-01_at_10``), hashes and wallet addresses; the cost of those is a
deleted message and a warning.
"""

from __future__ import annotations

import re

MIN_TOKEN = 24
MIN_DENSE = 32
DENSE_SHARE = 0.2
_RUN = re.compile(rf"[A-Za-z0-9+/=_-]{{{MIN_TOKEN},}}")
_PEM = re.compile(r"-{3,}\s*BEGIN[A-Z0-9 ]*PRIVATE\s+KEY", re.IGNORECASE)
_HEX = re.compile(r"[0-9A-Fa-f]+")
_URL_STARTS = ("www.", "t.me/", "telegram.me/")


def _is_url(word: str) -> bool:
    lowered = word.lower()
    return "://" in lowered or lowered.startswith(_URL_STARTS)


def token_is_secret(run: str) -> bool:
    """One candidate run of the base64 alphabet (see the module docstring)."""
    core = run.lstrip("/")
    if len(core) < MIN_TOKEN:
        return False
    upper = any(c.isupper() for c in core)
    lower = any(c.islower() for c in core)
    digits = sum(c.isdigit() for c in core)
    if upper and lower and (digits or "+" in core):
        return True
    bare = core.replace("-", "")
    if bare[:2] in ("0x", "0X"):
        bare = bare[2:]
    if len(bare) >= MIN_TOKEN and _HEX.fullmatch(bare) and digits and not bare.isdigit():
        return True
    letters = sum(c.isalpha() for c in core)
    return (
        len(core) >= MIN_DENSE
        and digits >= DENSE_SHARE * len(core)
        and letters >= DENSE_SHARE * len(core)
    )


def looks_like_secret(text: str | None) -> bool:
    """True when ``text`` holds a private key block or a long key-like token."""
    if not text:
        return False
    if _PEM.search(text):
        return True
    for word in text.split():
        if len(word) < MIN_TOKEN or _is_url(word):
            continue
        if any(token_is_secret(m.group(0)) for m in _RUN.finditer(word)):
            return True
    return False
