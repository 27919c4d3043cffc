import base64
import io
import logging

from nija_tg.logging_setup import setup_logging
from nija_tg.redaction import mask_tail, redact, register_secret
from nija_tg.vault import Vault, generate_key

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
    vault = Vault([generate_key().encode()])
    blob = vault.encrypt(1, "kraken", {"apiKey": SENTINEL_KEY, "secret": SENTINEL_SECRET})
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
