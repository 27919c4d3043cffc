"""TA-Lib never changes a signal: every pandas-ta call of the indicator module passes
``talib=False`` where pandas-ta takes it, and the ADX (whose pandas-ta version computes
its inner ATR without passing the flag on) is assembled from pieces that honour it."""

from __future__ import annotations

import ast
import inspect
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pandas_ta as ta
import pytest

from nija_tg.strategies import get_strategy
from nija_tg.strategies import indicators as ind
from nija_tg.strategies.adx_trend import AdxTrendParams

DATA = Path(__file__).resolve().parents[1] / "data"
FILES = ["ETH-BTC-5m.csv", "XRP-USDT-5m-futures.csv", "BTC-USDT-1d.csv"]


def pandas_ta_calls(module) -> list[ast.Call]:
    """Calls ``ta.<name>(...)`` in ``module``'s source (``ta`` = pandas_ta)."""
    tree = ast.parse(inspect.getsource(module))
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "ta"
    ]


def test_every_pandas_ta_call_that_takes_talib_passes_false() -> None:
    calls = pandas_ta_calls(ind)
    checked = []
    for call in calls:
        assert isinstance(call.func, ast.Attribute)
        fn = getattr(ta, call.func.attr)
        if not callable(fn) or "talib" not in inspect.signature(fn).parameters:
            continue  # e.g. ta.rma, ta.zero: pure pandas whatever is installed
        flag = [k for k in call.keywords if k.arg == "talib"]
        assert len(flag) == 1, f"ta.{call.func.attr} (line {call.lineno}) lacks talib=False"
        value = flag[0].value
        assert isinstance(value, ast.Constant) and value.value is False, call.lineno
        checked.append(call.func.attr)
    assert {"atr", "ema"} <= set(checked)
    assert "adx" not in {c.func.attr for c in calls if isinstance(c.func, ast.Attribute)}


@pytest.fixture
def talib_that_must_not_be_used(monkeypatch) -> list[str]:
    """A TA-Lib "installed" for pandas-ta whose every function records the call and
    fails: any indicator that still reaches TA-Lib shows up."""
    used: list[str] = []
    fake = types.ModuleType("talib")

    def __getattr__(name: str):  # noqa: N807 - module-level __getattr__ (PEP 562)
        def fn(*args, **kwargs):
            used.append(name)
            raise AssertionError(f"TA-Lib {name} was used")

        return fn

    fake.__getattr__ = __getattr__  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "talib", fake)
    monkeypatch.setitem(ta.Imports, "talib", True)
    return used


def frame(name: str) -> pd.DataFrame:
    return pd.read_csv(DATA / name).rename(columns={"timestamp": "ts"})


@pytest.mark.parametrize("name", FILES)
def test_installed_talib_changes_no_indicator(name, talib_that_must_not_be_used) -> None:
    df = frame(name)
    with_talib = get_strategy("adx_trend").compute(df, AdxTrendParams())
    assert talib_that_must_not_be_used == []
    ta.Imports["talib"] = False  # restored by monkeypatch
    without = get_strategy("adx_trend").compute(df, AdxTrendParams())
    pd.testing.assert_frame_equal(with_talib, without)


def test_pandas_ta_adx_reaches_talib_despite_the_flag(talib_that_must_not_be_used) -> None:
    """Why ``ind.adx`` does not call ``ta.adx``: its inner ATR ignores ``talib=False``
    (pandas-ta 0.4.71b0). If this starts failing, pandas-ta passes the flag on and
    ``ind.adx`` could call ``ta.adx(..., talib=False)`` again."""
    df = frame(FILES[0]).iloc[:200]
    with pytest.raises(AssertionError, match="TA-Lib ATR"):
        ta.adx(df["high"], df["low"], df["close"], length=14, talib=False)
    assert talib_that_must_not_be_used == ["ATR"]


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("length", [5, 14, 50])
def test_adx_is_pandas_tas_adx(name: str, length: int) -> None:
    """Same numbers as ``ta.adx(..., talib=False)`` (no TA-Lib here), to the bit, also
    on frames too short for it."""
    df = frame(name)
    for rows in (len(df), 3 * length, length + 1, length, 2, 1, 0):
        part = df.iloc[:rows]
        mine = ind.adx(part, length)
        ref = ta.adx(part["high"], part["low"], part["close"], length=length, talib=False)
        assert list(mine.columns) == ["adx", "dmp", "dmn"] and len(mine) == rows
        if ref is None:
            assert mine.isna().all().all(), rows
            continue
        for col, ref_col in (("adx", "ADX"), ("dmp", "DMP"), ("dmn", "DMN")):
            got, want = mine[col].to_numpy(), ref[f"{ref_col}_{length}"].to_numpy(float)
            assert np.array_equal(got, want, equal_nan=True), (rows, col)
