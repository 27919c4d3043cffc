"""``number_format.exact``: the one format of a setting's number (its value, its range,
an editor's step), shared by the renderer and the parser's error texts."""

from __future__ import annotations

from decimal import Decimal as D

from nija_tg.core import setting_parse
from nija_tg.core.errors import ValidationError
from nija_tg.core.number_format import DASH, exact
from nija_tg.messages import errors, setting_values


def test_exact_keeps_every_digit_with_thousands_separators():
    assert exact(D("100000")) == "100,000"
    assert exact(D("1E+5")) == "100,000"  # a normalised Decimal: no exponent
    assert exact(D("1234.5000")) == "1,234.5"  # no trailing zeros
    assert exact(D("0.123456789")) == "0.123456789"  # never rounded (unlike amount)
    assert exact(D("0.50")) == "0.5" and exact(D("250.00")) == "250"
    assert exact(D("-0")) == "0" and exact(D("-3.20")) == "-3.2"
    assert exact(5) == "5" and exact(100000) == "100,000"
    assert exact(0.1) == "0.1" and exact(1e-05) == "0.00001" and exact(2.0) == "2"
    assert exact(D("NaN")) == DASH and exact(float("inf")) == DASH


def test_the_renderer_and_the_parser_use_the_one_function():
    assert setting_values.number is exact
    assert setting_parse.fmt is exact
    assert setting_values.numeric_range(D(10), D(100000), False, "usd", "USDT") == (
        "10 to 100,000 USDT"
    )
    err = ValidationError(
        "x", code="setting_out_of_range", params={"name": "n", "lo": D(10), "hi": D("1E+5")}
    )
    assert errors.text(err) == "n must be between 10 and 100,000."
