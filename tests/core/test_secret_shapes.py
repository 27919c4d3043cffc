"""The key/secret shape rule (nija_tg.core.secret_shapes), both directions.

The key-like strings here are random test values in the formats exchanges use; none is
a real credential."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nija_tg.core.risk_settings import setting_names
from nija_tg.core.secret_shapes import looks_like_secret, token_is_secret

KRAKEN_KEY = "Z4VJmQNuf7NqZXWwWQ8bKRnwc0KRq/AwcZOAPlIFQ4Z97RuuAtpMD9B4"
KRAKEN_SECRET = (
    "SDpQGMKkYsma/OhwQ7mX3VkKR36PBlhmkNMw5PpINJMRuGSrNsLk7eXMFMGX6/wzfZZ+EHZm5R/dGnMpnwzVAA=="
)
PEM = (
    "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBtestTESTtestTESTtestTESTtestTESTtestoAoGCCqGSM49\n"
    "-----END EC PRIVATE KEY-----"
)

SECRETS = [
    KRAKEN_KEY,
    KRAKEN_SECRET,
    "/" + KRAKEN_KEY[1:],  # base64 that starts with "/" (Telegram shows a command)
    "/du+Id7uy8D+5mhhjqHFDbqTJG5tLk0aW3nB7xQe9sVf2Lr8cPzHyU1oAmXk",
    "jcklT5yK9PaNhq4LxRzovlIfM0B33To3TRfbMcG7iSUFlaoF6uLzstGPC2fzpps0",  # Binance / BingX
    "aF2hJ0j7zqLFngp9qqRGBO8iBosgJCC5UzB8272_0Ys",  # base64url
    "7CCSSyJTeHwU9t2hE8VG11sORf1XqYdh",  # 32-char base64 (Coinbase legacy secret)
    "ec8cb769807c61169dcb279f",  # 24 hex (KuCoin key)
    "6cf3e16a-d0aa-4672-aa47-26b7aa4f7ba5",  # UUID (OKX key, KuCoin secret)
    "DDD790DE5CF7AED03BD215F8C8A238A4",  # 32 upper hex (OKX secret)
    "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318",  # wallet key
    "ngpv39u5078ou2zfv9set7j2tdnbpw3i",  # 32 lower base36
    "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",  # a bot token
    PEM,
    "-----BEGIN PRIVATE KEY-----",  # the header alone
    "-----begin openssh private key-----",
    # one of several words, quoted, labelled, in a command
    f"my key is {KRAKEN_KEY} thanks",
    f"apiKey: `{KRAKEN_KEY}`",
    f"secret={KRAKEN_SECRET}",
    f'"{KRAKEN_KEY}",',
    f"/connect kraken {KRAKEN_KEY} {KRAKEN_SECRET}",
    f"/set max_position_usd {KRAKEN_KEY}",
    f"/frobnicate{KRAKEN_KEY}",
    f"line one\n{KRAKEN_SECRET}\nline three",
]

ORDINARY = [
    "",
    "hello",
    "/start",
    "/help",
    "/status@fake_test_bot",
    "/set max_position_usd 250",
    "/set strategy.adx_exit_threshold 25",
    "/set trailing_atr_multiplier 2.5",
    "/set allowed_pairs BTC,ETH,SOL",
    "/pairs add SOL",
    "/pairs remove ADA",
    "/grant 111 222",
    "/revoke 12345678 87654321",
    "/status 12345678",
    "/pause all risk review after the 2024 incident",
    "/bound max_position_usd ..500",
    "/bound allowed_pairs BTC/USDT/ETH/SOL/ADA/XRP 12345",
    "/notify fills silent",
    "/connect kraken",
    "/connect okx",
    "/trades 20",
    "9" * 40,
    "-" + "9" * 40,
    "1e309",
    "12345678901234567890123456789012345678901234567890",
    "supercalifragilisticexpialidocious",
    "ThisIsAVeryLongCamelCaseSentenceWithoutAnyDigits",
    "max_position_usd_for_everyone_in_2024",
    "/broadcast Maintenance at 02:00 UTC, see https://status.example.com/incidents/"
    "2024-05-01/AbC123dEf456GhI789jKl012MnO345",
    "/broadcast Read www.example.com/Docs/Getting-Started/Version2024Edition first",
    "BTC/USDT:USDT",
    "'; DROP TABLE users; --",
    "../../etc/passwd",
    "Привет, как дела? 👨‍👩‍👧‍👦",
    "The quick brown fox jumps over the lazy dog 1234567890 times",
    "-----BEGIN PUBLIC KEY-----",
    "----- a divider -----",
]


@pytest.mark.parametrize("text", SECRETS)
def test_key_shapes_are_secrets(text):
    assert looks_like_secret(text)


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_text_is_not_a_secret(text):
    assert not looks_like_secret(text)


@pytest.mark.parametrize(
    ("run", "secret"),
    [
        ("a" * 23 + "B1", True),
        ("aB1" + "x" * 20, False),  # 23 characters
        ("/" * 5 + "aB1" + "x" * 20, False),  # leading slashes do not count
        ("abcdef0123456789abcdef01", True),  # 24 hex
        ("abcdef0123456789abcdef0", False),  # 23 hex
        ("abcdefabcdefabcdefabcdefabcdef", False),  # hex letters, no digit
        ("0" * 30, False),  # digits only
        ("abc1" * 8, True),  # 32, 25% digits
        ("abcdefg1" * 4, False),  # 32, 12.5% digits
        ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcd", False),  # no digit, no "+"
        ("ABCDEFGHIJKLMNOPQRSTUVWXYZab+d", True),
    ],
)
def test_token_rule_boundaries(run, secret):
    assert token_is_secret(run) is secret


_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
keys = st.text(alphabet=_B64, min_size=24, max_size=120).filter(looks_like_secret)
words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz ", max_size=40)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(keys, words, words)
def test_a_secret_stays_a_secret_wherever_it_sits(key, before, after):
    for text in (f"/{key}", f"{before} {key} {after}", f"{before}\n{key}.", f"/connect {key}"):
        assert looks_like_secret(text)


numbers = st.one_of(
    st.integers(min_value=-(10**60), max_value=10**60).map(str),
    st.decimals(allow_nan=False, allow_infinity=False, places=4).map(str),
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.sampled_from(sorted(setting_names())), numbers, st.integers(0, 10**12))
def test_commands_in_their_grammar_are_never_secrets(name, number, user_id):
    assert not looks_like_secret(f"/set {name} {number}")
    assert not looks_like_secret(f"/grant {user_id} {user_id + 1}")
    assert not looks_like_secret(f"/pause {user_id} {name} {number}")
    assert not looks_like_secret(f"/trades {number}")
