import base64
import io
import logging
import re

from nija_tg.logging_setup import setup_logging
from nija_tg.redaction import mask_tail, redact, register_secret
from nija_tg.vault.keyring import KeyRing

SENTINEL_KEY = "SENTINELapikey0000111122223333"
SENTINEL_SECRET = "SENTINELsecretAAAABBBBCCCCDDDD"
BOT_TOKEN = "987654321:SENTINELtokenXXXXXXXXXXXXXXXXXXXXXXX"


def forms(value: str) -> list[str]:
    raw = value.encode()
    return [value, base64.b64encode(raw).decode().rstrip("="), raw.hex()]


def capture(level: str = "DEBUG") -> io.StringIO:
    stream = io.StringIO()
    setup_logging(level, "DEBUG", stream=stream)
    return stream


def test_vault_registers_what_it_handles_and_logs_never_show_it():
    stream = capture()
    vault = KeyRing.generate()
    blob = vault.seal(1, "kraken", {"apiKey": SENTINEL_KEY, "secret": SENTINEL_SECRET})
    log = logging.getLogger("nija_tg.test")
    log.debug("key=%s secret=%s", SENTINEL_KEY, SENTINEL_SECRET)
    log.info("blob %s", blob.decode())
    log.warning("b64 %s hex %s", *forms(SENTINEL_SECRET)[1:])
    log.info("token in a URL https://api.telegram.org/bot%s/getMe", BOT_TOKEN)
    text = stream.getvalue()
    for value in (SENTINEL_KEY, SENTINEL_SECRET, BOT_TOKEN):
        for form in forms(value):
            assert form not in text
    assert blob.decode() not in text
    assert text.count("[REDACTED]") >= 6


def test_secrets_inside_exceptions_are_redacted():
    stream = capture()
    register_secret("SENTINELpassphrase99")
    try:
        raise ValueError("exchange said: bad passphrase SENTINELpassphrase99")
    except ValueError:
        logging.getLogger("ccxt").error("call failed", exc_info=True)
    text = stream.getvalue()
    assert "SENTINELpassphrase99" not in text
    assert "ValueError" in text  # the traceback is kept, only the secret goes


def test_library_loggers_default_to_warning():
    stream = io.StringIO()
    setup_logging("DEBUG", "WARNING", stream=stream)
    logging.getLogger("httpx").info("HTTP Request: POST https://x/bot123/getUpdates")
    logging.getLogger("telegram.ext").debug("noise")
    assert stream.getvalue() == ""


WIRE = ("ccxt", "httpx", "httpcore", "aiohttp.client", "urllib3", "telegram")
BEARER = "Bearer eyJhbGciOiJFUzI1NiJ9.SENTINELjwtpayload.SENTINELsignature"


def test_wire_loggers_never_go_below_info_even_at_library_debug(tmp_path):
    from nija_tg.config import load_settings

    settings = load_settings(
        {"NIJA_DATA_DIR": str(tmp_path), "NIJA_LIBRARY_LOG_LEVEL": "DEBUG"}, dotenv=None
    )
    assert settings.library_log_level == "DEBUG"
    stream = io.StringIO()
    setup_logging("DEBUG", settings.library_log_level, stream=stream)
    for name in WIRE:
        assert logging.getLogger(name).getEffectiveLevel() == logging.INFO, name
        logging.getLogger(f"{name}.child").debug(
            "GET /accounts headers {'Authorization': '%s'}", BEARER
        )
    assert logging.getLogger("aiosqlite").getEffectiveLevel() == logging.DEBUG  # others obey
    # a library (or a stray line of code) that sets its logger lower later still stops
    logging.getLogger("ccxt.base.exchange").setLevel(logging.DEBUG)
    logging.getLogger("ccxt.base.exchange").debug("fetch Request: headers %s", BEARER)
    logging.getLogger("ccxt").info("ccxt says hello")
    text = stream.getvalue()
    assert "SENTINELjwtpayload" not in text and "Authorization" not in text
    assert "ccxt says hello" in text
    logging.getLogger("ccxt.base.exchange").setLevel(logging.NOTSET)


def test_redact_handles_overlaps_and_pem_lines():
    register_secret("ABCDEFGHIJKL")
    register_secret("ABCDEFGHIJKLMNOP")
    assert redact("x ABCDEFGHIJKLMNOP y") == "x [REDACTED] y"
    pem = (
        "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBxSENTINELpemline0000\n"
        "-----END EC PRIVATE KEY-----"
    )
    register_secret(pem)
    assert "MHcCAQEEIBxSENTINELpemline0000" not in redact("leak MHcCAQEEIBxSENTINELpemline0000")


def test_short_values_are_not_registered():
    register_secret("abc")
    assert redact("abc") == "abc"


def test_mask_tail_never_shows_more_than_four():
    assert mask_tail("AKIA1234567890WXYZ") == "••••WXYZ"
    assert mask_tail("short") == "••••"


# --- the registry keeps no secret in clear, is bounded, and knows more encodings -------

WRAPPED_KEY = "SENTINELwrap" + "Kq9Zx2Lm7Pw4Rt8Vb3Nc6Hy1Jd5Fg0" * 4  # 132 characters
PEM_BODY = "MHcCAQEEISENTINELpembody" + "AbCdEfGhIjKlMnOpQrStUvWxYz012345" * 5


def _pem(body: str, width: int) -> str:
    lines = [body[i : i + width] for i in range(0, len(body), width)]
    return (
        "-----BEGIN EC PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END EC PRIVATE KEY-----\n"
    )


def _reachable_text(root: object) -> list[str]:
    """Every str and bytes object reachable from ``root`` through containers and
    instance attributes (what a heap dump of the registry would show)."""
    import gc
    import types

    seen: set[int] = set()
    stack, found = [root], []
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, type | types.ModuleType | types.FunctionType):
            continue
        seen.add(id(obj))
        if isinstance(obj, str | bytes):
            found.append(obj if isinstance(obj, str) else obj.decode("latin-1"))
            continue
        stack.extend(gc.get_referents(obj))
    return found


def test_registry_holds_no_secret_nor_any_encoding_nor_a_prefix_of_one():
    import nija_tg.redaction as redaction

    secret = "SENTINELheapdump/Zq81+Lx03Vb=="
    register_secret(secret)
    assert redact(f"x {secret} y") == "x [REDACTED] y"
    state = [v for k, v in vars(redaction).items() if k.startswith("_") and not callable(v)]
    texts = _reachable_text(state)
    for form in (*forms(secret), base64.urlsafe_b64encode(secret.encode()).decode()):
        for text in texts:
            assert form[:6] not in text, f"{form[:6]!r} of a registered form is kept in clear"


def test_url_encoded_base64_forms_are_redacted():
    from urllib.parse import quote, quote_plus

    secret = base64.b64encode(b"\xfb\xef\xbeSENTINELurl\xfb\xff" * 3 + b"!").decode()  # + / =
    assert "+" in secret and "/" in secret and secret.endswith("=")
    register_secret(secret)
    for text in (
        quote(secret, safe=""),
        re.sub("%[0-9A-F]{2}", lambda m: m.group().lower(), quote(secret, safe="")),
        quote(secret),  # '/' left as is
        f"POST /0/private/Balance nonce=1&otp={quote_plus(secret)}&x=1",
    ):
        out = redact(f"sent {text} ok")
        assert "%2B" not in out.upper() and "%2F" not in out.upper(), out
        assert out.startswith("sent ") and out.endswith(" ok"), out


def test_upper_case_hex_is_redacted():
    secret = "SENTINELhexUPPER0123456789"
    register_secret(secret)
    upper = secret.encode().hex().upper()
    assert redact(f"dump {upper} end") == "dump [REDACTED] end"
    assert redact(f"dump {upper.lower()} end") == "dump [REDACTED] end"


def test_secrets_split_across_lines_are_redacted():
    register_secret(WRAPPED_KEY)
    for width in (64, 76):
        wrapped = "\n".join(WRAPPED_KEY[i : i + width] for i in range(0, len(WRAPPED_KEY), width))
        out = redact(f"key:\n{wrapped}\nnext line")
        assert out == "key:\n[REDACTED]\nnext line", out
        indented = wrapped.replace("\n", "\r\n    ")
        assert redact(f"key: {indented} end") == "key: [REDACTED] end"
    escaped = WRAPPED_KEY[:40] + "\\n" + WRAPPED_KEY[40:90] + "\\n" + WRAPPED_KEY[90:]
    assert redact(f"{{'k': '{escaped}'}}") == "{'k': '[REDACTED]'}"
    out = redact(f"two {WRAPPED_KEY[:60]}\n{WRAPPED_KEY[60:]} keys {WRAPPED_KEY}")
    assert out == "two [REDACTED] keys [REDACTED]"


def test_pem_is_redacted_however_it_is_wrapped_or_escaped():
    import json

    register_secret(_pem(PEM_BODY, 64))
    rewrapped = _pem(PEM_BODY, 76)
    for text in (
        rewrapped,
        json.dumps({"privateKey": rewrapped}),  # "\n" escaped, as in Coinbase's key file
        PEM_BODY,
        PEM_BODY[:64],  # one line of it
    ):
        out = redact(f"leak {text} end")
        assert "SENTINELpembody" not in out and PEM_BODY[64:80] not in out, out


def test_registry_is_bounded_least_recently_registered_goes_first(caplog):
    from nija_tg.redaction import SecretRegistry

    reg = SecretRegistry(capacity=3)
    values = [f"SENTINELlru{i}-{'x' * 12}" for i in range(5)]
    reg.register("SENTINELpinned-config-value", pin=True)
    for value in values[:3]:
        reg.register(value)
    reg.register(values[0])  # registered again: the most recent now
    with caplog.at_level(logging.WARNING, logger="nija_tg.redaction"):
        reg.register(values[3])  # evicts values[1], the least recently registered
    assert len(reg) == 4 and reg.evicted == 1
    assert "no longer redacted" in caplog.text  # the operator is told, once
    text = " ".join(values[:4])
    assert reg.redact_known(text).split() == ["[REDACTED]", values[1], "[REDACTED]", "[REDACTED]"]
    reg.register(values[4])
    reg.register(values[0])
    reg.set_capacity(1)
    assert len(reg) == 2  # the pinned value never goes
    assert reg.redact_known("SENTINELpinned-config-value") == "[REDACTED]"
    assert reg.redact_known(values[0]) == "[REDACTED]"
    assert reg.unregister(values[0]) and not reg.unregister(values[0])
    assert reg.redact_known(values[0]) == values[0]
    assert reg.unregister("SENTINELpinned-config-value") and len(reg) == 0


def test_default_registry_is_bounded():
    from nija_tg.redaction import MAX_SECRETS, registry

    assert registry().capacity == MAX_SECRETS <= 10_000


def test_ten_thousand_registered_secrets_redact_exactly_the_one_in_the_text():
    """(The cost, linear in the text and flat in the number of secrets, is a benchmark
    figure, not a timed test: these machines are shared and noisy.)"""
    import hashlib

    from nija_tg.redaction import SecretRegistry

    many = SecretRegistry()
    for i in range(10_000):
        many.register(hashlib.sha256(f"user-{i}".encode()).hexdigest()[:40])
    line = "2026-01-01 12:00:00 INFO nija_tg.engine: user 123 close BTC/USDT 1.5%\n"
    short = line * 30
    assert many.redact_known(short) == short
    first = hashlib.sha256(b"user-0").hexdigest()[:40]
    assert many.redact_known(short + first + short).count("[REDACTED]") == 1
