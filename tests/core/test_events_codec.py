"""The outbox stores events as (type name, JSON payload): every event reads back equal,
Decimals keep their exact digits, datetimes their offset, and a row this version cannot
read is a clear EventDecodeError that names the field but never the value."""

from __future__ import annotations

import dataclasses
import json
import typing
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal as D

import pytest

from nija_tg.core import events as ev
from nija_tg.core import events_codec as codec
from nija_tg.messages.catalogue import SAMPLES


def test_every_event_type_has_a_stored_name():
    assert set(typing.get_args(ev.Event)) == set(codec.EVENT_TYPES.values())
    assert len(set(codec.EVENT_TYPES)) == len(codec.EVENT_TYPES)


@pytest.mark.parametrize("title,event", SAMPLES, ids=[t for t, _ in SAMPLES])
def test_every_sample_event_reads_back_equal_through_json(title, event):
    name, payload = codec.dumps(event)
    back = codec.loads(name, payload)
    assert back == event and type(back) is type(event)
    assert json.loads(payload) == codec.encode(event)[1]


def test_decimals_keep_their_exact_digits_and_exponent():
    fill = ev.Fill(
        symbol="PEPE/USDT", base="PEPE", quote="USDT", buy=True, amount=D("1E+7"),
        price=D("0.00001234500"), fee=D("-0.10"), mode="live", exchange_id="kraken",
        trade_id="T", opens=True, realized=D("0.1000000000000000000000000001"),
        price_step=D("1E-9"),
    )  # fmt: skip
    name, payload = codec.encode(fill)
    assert payload["price"] == "0.00001234500" and payload["amount"] == "1E+7"
    back = codec.decode(name, json.loads(json.dumps(payload)))
    for field in ("amount", "price", "fee", "realized", "price_step"):
        mine, theirs = getattr(fill, field), getattr(back, field)
        assert str(mine) == str(theirs) and mine.as_tuple() == theirs.as_tuple()


@dataclasses.dataclass(frozen=True)
class _Stamped:
    at: datetime
    maybe: datetime | None = None
    amounts: tuple[D, ...] = ()


def test_datetimes_keep_their_instant_and_offset():
    stamped = _Stamped(
        datetime(2026, 12, 5, 6, 1, 2, 345678, tzinfo=UTC),
        datetime(2026, 12, 5, 8, 0, tzinfo=timezone(timedelta(hours=2))),
        (D("1.10"), D("-0")),
    )
    data = json.loads(json.dumps(codec.to_payload(stamped)))
    back = codec.from_payload(_Stamped, data)
    assert back == stamped
    assert back.maybe.utcoffset() == timedelta(hours=2)
    assert [str(a) for a in back.amounts] == ["1.10", "-0"]
    with pytest.raises(codec.EventDecodeError, match=r"_Stamped\.at: not an ISO datetime"):
        codec.from_payload(_Stamped, {"at": "yesterday"})


def test_a_payload_written_before_a_field_with_a_default_was_added_still_reads():
    payload = codec.encode(ev.DrawdownPaused(D("12.5"), D("10"), 2))[1]
    del payload["held"]
    assert codec.decode("drawdown_paused", payload) == ev.DrawdownPaused(D("12.5"), D("10"))


SECRET = "sk-live-abcdef0123456789"  # a value that must never show in an error


@pytest.mark.parametrize(
    "name,payload,message",
    [
        ("no_such_event", {}, "unknown event type 'no_such_event'"),
        ("key_refused", {"exchange_id": "kraken"}, "key_refused: missing field reason"),
        (
            "key_refused",
            {"exchange_id": "kraken", "reason": "r", "secret": SECRET},
            r"key_refused: unknown field\(s\) \['secret'\]",
        ),
        ("key_refused", {"exchange_id": 5, "reason": SECRET}, "exchange_id: expected a string"),
        ("daily_loss_limit", {"loss": SECRET, "limit": "1", "day": "d"}, "loss: not a decimal"),
        ("daily_loss_limit", {"loss": 1.5, "limit": "1", "day": "d"}, "loss: expected a decimal"),
        ("halted", {"halted": 1}, "halted.halted: expected true or false"),
        ("loop_crashed", {"failures": True}, "failures: expected an integer"),
        ("loop_crashed", [SECRET], "loop_crashed: expected an object"),
        ("stop_hit", {"fill": {"symbol": SECRET}, "stop": None}, "stop_hit.fill: missing"),
        ("close_refused", {"request_id": 1, "refused": [[SECRET]]}, r"refused\[0\]: expected 2"),
        ("key_dead", {"exchange_id": "k", "unprotected": None}, "unprotected: expected a list"),
    ],
)
def test_a_payload_this_version_cannot_read_is_a_clear_error_without_its_values(
    name, payload, message
):
    with pytest.raises(codec.EventDecodeError, match=message) as raised:
        codec.decode(name, payload)
    assert SECRET not in str(raised.value)


def test_a_payload_that_is_not_json_is_a_decode_error():
    with pytest.raises(codec.EventDecodeError, match="halted: the payload is not JSON"):
        codec.loads("halted", "{" + SECRET)
    with pytest.raises(codec.EventDecodeError):
        codec.loads("halted", None)  # type: ignore[arg-type]


def test_only_events_are_stored():
    with pytest.raises(codec.EventEncodeError, match="not a stored event type: str"):
        codec.encode("Sold 1 ETH")
    with pytest.raises(codec.EventEncodeError, match="a float that JSON cannot hold"):
        codec.encode(ev.CloseExpired(1, None, float("nan")))
