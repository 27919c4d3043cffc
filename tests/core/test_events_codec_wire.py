"""The outbox's wire format does not move when the encoder gets faster: every sample
event encodes to the very same JSON text as the first generic encoder (kept below as
the reference), rows written by an older engine (literal texts) read back to the same
events, and what the encoder refuses it still refuses."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from decimal import Decimal as D
from typing import Any

import pytest

from nija_tg.core import events as ev
from nija_tg.core import events_codec as codec
from nija_tg.messages.catalogue import SAMPLES


def _reference_value(value: object) -> Any:
    """The generic walk the codec used before (session 8): one isinstance chain a value."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise codec.EventEncodeError("a float that JSON cannot hold")
        return value
    if isinstance(value, D):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return [_reference_value(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _reference_payload(value)
    raise codec.EventEncodeError(f"cannot store a {type(value).__name__}")


def _reference_payload(obj: object) -> dict[str, Any]:
    return {f.name: _reference_value(getattr(obj, f.name)) for f in dataclasses.fields(obj)}


def _reference_dumps(event: object) -> str:
    payload = _reference_payload(event)
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


@pytest.mark.parametrize("title,event", SAMPLES, ids=[t for t, _ in SAMPLES])
def test_every_sample_event_encodes_to_the_same_text_as_the_reference_encoder(title, event):
    name, text = codec.dumps(event)
    assert name == codec.type_name(event)
    assert text == _reference_dumps(event)
    again = codec.dumps(event)  # the per-class field list, now cached, gives the same
    assert again == (name, text)


def test_every_event_type_is_covered_by_the_samples():
    assert {type(e) for _, e in SAMPLES} == set(codec.EVENT_TYPES.values())


_FILL = ev.Fill(
    symbol="ÉTH/EUR", base="ÉTH", quote="EUR", buy=False, amount=D("0.0100"),
    price=D("2345.6"), fee=D("0.023456"), mode="paper", exchange_id="kraken",
    trade_id="paper-7-1", opens=False, realized=D("-1.5E+1"), purpose="exit",
    price_step=D("0.1"),
)  # fmt: skip

# written by the engine at b875bc7 (the generic encoder), byte for byte
_OLD_FILL = (
    '{"amount":"0.0100","base":"ÉTH","buy":false,"exchange_id":"kraken","fee":"0.023456",'
    '"leverage":null,"mode":"paper","opens":false,"position":"long","price":"2345.6",'
    '"price_step":"0.1","purpose":"exit","quote":"EUR","realized":"-15","swap":false,'
    '"symbol":"ÉTH/EUR","trade_id":"paper-7-1"}'
)
_OLD_STOP_HIT = '{"fill":' + _OLD_FILL + ',"on_exchange":true,"stop":"2300"}'


def test_rows_written_by_an_older_engine_read_back_and_encode_the_same():
    hit = ev.StopHit(_FILL, D("2300"), True)
    assert codec.loads("fill", _OLD_FILL) == _FILL
    assert codec.loads("stop_hit", _OLD_STOP_HIT) == hit
    assert codec.dumps(_FILL) == ("fill", _OLD_FILL)
    assert codec.dumps(hit) == ("stop_hit", _OLD_STOP_HIT)


class _Amount(D):
    """A Decimal subclass: takes the generic path, stored as its digits all the same."""


@dataclasses.dataclass(frozen=True)
class _Odd:
    amount: D
    ratio: float = 0.5
    flag: bool = True
    items: tuple[D, ...] = ()


def test_values_off_the_fast_path_are_stored_as_before():
    odd = _Odd(_Amount("1.50"), 0.25, False, (D("1"), _Amount("2.0")))
    assert codec.to_payload(odd) == _reference_payload(odd)
    assert codec.to_payload(odd) == {
        "amount": "1.50", "ratio": 0.25, "flag": False, "items": ["1", "2.0"],
    }  # fmt: skip


def test_what_the_encoder_refused_it_still_refuses():
    with pytest.raises(codec.EventEncodeError, match="JSON cannot hold"):
        codec.to_payload(_Odd(D(1), float("nan")))
    with pytest.raises(codec.EventEncodeError, match="not a dataclass: dict"):
        codec.to_payload({"amount": "1"})
    with pytest.raises(codec.EventEncodeError, match="not a dataclass"):
        codec.to_payload(_Odd)  # the class itself, not an instance
    with pytest.raises(codec.EventEncodeError, match="cannot store a list"):
        codec.to_payload(_Odd([1]))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "body",
    ['quote " back\\slash', "line\nbreak\ttab\r\x00\x1f\x7f", "café ₿ 🚀 \u2028 </b>", ""],
)
def test_text_that_json_escapes_is_written_as_the_encoder_writes_it(body):
    event = ev.Broadcast(body)
    name, text = codec.dumps(event)
    assert text == _reference_dumps(event)
    assert codec.loads(name, text) == event
