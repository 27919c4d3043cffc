"""Every ccxt exception class maps to our taxonomy, on reads and on submits, with a
sanitized message (the table test; behaviour through emulators is in test_contract)."""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import ccxt
import pytest

from nija_tg.core import errors as E
from nija_tg.exchange.ccxt_errors import ERROR_TABLE, map_error, row_for, submit_outcome
from nija_tg.messages.errors import WORDS
from nija_tg.messages.errors import text as error_text

SECRET = "kQ9sEcReTvAlUe=="
RAW = f'kraken POST https://api.kraken.com/0/private/AddOrder apiKey=APIKEY123 {{"s":"{SECRET}"}}'
DOC = Path(__file__).resolve().parents[2] / "docs" / "exchange-errors.md"

ALL_CCXT = [
    cls
    for _, cls in inspect.getmembers(sys.modules[ccxt.BaseError.__module__], inspect.isclass)
    if issubclass(cls, ccxt.BaseError)
]


@pytest.mark.parametrize("cls", ALL_CCXT, ids=lambda c: c.__name__)
def test_every_ccxt_exception_class_has_its_own_row(cls):
    row = row_for(cls)
    assert row is not None and row.ccxt_name == cls.__name__


@pytest.mark.parametrize("row", ERROR_TABLE, ids=lambda r: r.ccxt_name)
@pytest.mark.parametrize("op", ["read", "submit"])
def test_row_maps_with_sanitized_message(row, op):
    exc = getattr(ccxt, row.ccxt_name)(RAW)
    err = map_error(exc, exchange_id="kraken", action="create_order", op=op)
    expected = row.on_read if op == "read" else row.on_submit
    assert type(err) is expected
    text = str(err)
    assert "kraken" in text and row.ccxt_name in text
    for leak in (SECRET, "APIKEY123", "https://", "AddOrder"):
        assert leak not in text and leak not in error_text(err)
    assert error_text(err) in WORDS.values()  # the user is told words of ours only
    if op == "submit" and expected is E.UnknownOutcomeError:
        assert err.code == E.UnknownOutcomeError.code
    else:
        assert err.code == (row.code or expected.code)


@pytest.mark.parametrize("row", ERROR_TABLE, ids=lambda r: r.ccxt_name)
def test_every_row_has_words(row):
    assert (row.code or row.on_read.code) in WORDS and (row.code or row.on_submit.code) in WORDS


def test_rate_limit_is_its_own_row_not_ddos():
    assert not issubclass(ccxt.RateLimitExceeded, ccxt.DDoSProtection)
    assert row_for(ccxt.RateLimitExceeded).ccxt_name == "RateLimitExceeded"
    err = map_error(ccxt.RateLimitExceeded("x"), exchange_id="bingx", action="a", op="submit")
    assert isinstance(err, E.RateLimitedError) and isinstance(err, E.RetryableError)


@pytest.mark.parametrize(
    "cls, read_cls, submit_cls",
    [
        (ccxt.RequestTimeout, E.RetryableError, E.UnknownOutcomeError),
        (ccxt.NetworkError, E.RetryableError, E.UnknownOutcomeError),
        (ccxt.BadResponse, E.RetryableError, E.UnknownOutcomeError),
        (ccxt.ExchangeNotAvailable, E.ExchangeUnreachableError, E.UnknownOutcomeError),
        (ccxt.InvalidNonce, E.RetryableError, E.RetryableError),
        (ccxt.OnMaintenance, E.ExchangeUnreachableError, E.ExchangeUnreachableError),
        (ccxt.InsufficientFunds, E.InsufficientFundsError, E.InsufficientFundsError),
        (ccxt.PermissionDenied, E.AuthenticationError, E.AuthenticationError),
        (ccxt.AccountSuspended, E.AuthenticationError, E.AuthenticationError),
        (ccxt.OrderNotFound, E.NotFoundError, E.NotFoundError),
        (ccxt.BadSymbol, E.ExchangeError, E.OrderRejectedError),
        (ccxt.DuplicateOrderId, E.OrderRejectedError, E.OrderRejectedError),
    ],
)
def test_issue_examples(cls, read_cls, submit_cls):
    assert type(map_error(cls("x"), exchange_id="e", action="a", op="read")) is read_cls
    assert type(map_error(cls("x"), exchange_id="e", action="a", op="submit")) is submit_cls


def test_submit_that_never_connected_is_retryable_not_unknown():
    try:
        try:
            raise ConnectionRefusedError(111, "refused")
        except ConnectionRefusedError as cause:
            raise ccxt.ExchangeNotAvailable(RAW) from cause
    except ccxt.ExchangeNotAvailable as exc:
        err = map_error(exc, exchange_id="kraken", action="create_order", op="submit")
    assert type(err) is E.ExchangeUnreachableError


def test_kraken_invalid_signature_is_authentication():
    exc = ccxt.ExchangeError('kraken {"error":["EAPI:Invalid signature"]}')
    assert type(map_error(exc, exchange_id="kraken", action="a")) is E.AuthenticationError
    assert type(map_error(exc, exchange_id="bingx", action="a")) is E.ExchangeError


def test_bingx_stale_timestamp_is_a_nonce_problem_not_a_bad_symbol():
    exc = ccxt.BadSymbol('bingx {"code":100421,"msg":"Null timestamp or timestamp mismatch"}')
    assert type(map_error(exc, exchange_id="bingx", action="a")) is E.RetryableError
    other = ccxt.BadSymbol('bingx {"code":109425,"msg":"symbol not exist"}')
    assert type(map_error(other, exchange_id="bingx", action="a")) is E.ExchangeError


def test_bingx_rate_limit_codes_are_not_processed_on_a_submit():
    """BingX answers its rate limits with codes ccxt maps to OperationFailed (an unknown
    outcome) or a plain ExchangeError (a refusal): both say the request was refused before
    it was processed."""
    for cls, code in ((ccxt.OperationFailed, 100410), (ccxt.ExchangeError, 109429)):
        exc = cls(f'bingx {{"code":{code},"msg":"rate limited","data":{{}}}}')
        err = map_error(exc, exchange_id="bingx", action="create_order", op="submit")
        assert type(err) is E.RateLimitedError and "RateLimitExceeded" in str(err)
        assert submit_outcome(type(err)) == "not processed"
    internal = ccxt.OperationFailed('bingx {"code":100500,"msg":"Internal system error"}')
    err = map_error(internal, exchange_id="bingx", action="create_order", op="submit")
    assert type(err) is E.UnknownOutcomeError and submit_outcome(type(err)) == "unknown"


@pytest.mark.parametrize(
    "exc, outcome",
    [
        (ccxt.RateLimitExceeded("429 Too Many Requests"), "not processed"),  # HTTP 429
        (ccxt.DDoSProtection('kraken {"error":["EAPI:Rate limit exceeded"]}'), "not processed"),
        (ccxt.InvalidNonce('kraken {"error":["EAPI:Invalid nonce"]}'), "not processed"),
        (ccxt.OnMaintenance("EService:Market in cancel_only mode"), "not processed"),
        (ccxt.ExchangeNotAvailable("500 Internal Server Error"), "unknown"),  # 5xx, no proof
        (ccxt.ExchangeNotAvailable('kraken {"error":["EService:Unavailable"]}'), "unknown"),
        (ccxt.RequestTimeout("timed out"), "unknown"),
        (ccxt.NetworkError("connection reset"), "unknown"),
        (ccxt.InsufficientFunds('kraken {"error":["EOrder:Insufficient funds"]}'), "refused"),
        (ccxt.InvalidOrder("EOrder:Order minimum not met"), "refused"),
        (ccxt.OrderNotFound("80017 position not exist"), "nothing to act on"),
        (ccxt.AuthenticationError("EAPI:Invalid key"), "key refused"),
    ],
    ids=lambda v: v if isinstance(v, str) else type(v).__name__,
)
def test_submit_outcome_not_processed_versus_unknown(exc, outcome):
    err = map_error(exc, exchange_id="kraken", action="create_order", op="submit")
    assert submit_outcome(type(err)) == outcome


def test_non_ccxt_exceptions():
    timeout = TimeoutError()
    assert type(map_error(timeout, exchange_id="e", action="a", op="submit")) is (
        E.UnknownOutcomeError
    )
    assert type(map_error(timeout, exchange_id="e", action="a")) is E.RetryableError
    assert type(map_error(ValueError(SECRET), exchange_id="e", action="a")) is E.ExchangeError
    assert SECRET not in str(map_error(ValueError(SECRET), exchange_id="e", action="a"))
    ours = E.NotFoundError("x")
    assert map_error(ours, exchange_id="e", action="a") is ours


def test_doc_lists_every_row():
    doc = DOC.read_text()
    for row in ERROR_TABLE:
        line = next(
            (ln for ln in doc.splitlines() if ln.startswith(f"| `{row.ccxt_name}` |")), None
        )
        assert line is not None, row.ccxt_name
        assert f"`{row.on_read.__name__}`" in line and f"`{row.on_submit.__name__}`" in line
        assert f" | {row.submit_outcome} | " in line, row.ccxt_name
