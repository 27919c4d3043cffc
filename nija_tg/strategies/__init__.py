"""Strategy registry.

A strategy is one module: a :class:`~nija_tg.strategies.base.Strategy` subclass
decorated with ``@register("name")``. Built-in strategies are imported at the bottom of
this module so that they register themselves on first import of the package.
"""

from __future__ import annotations

from collections.abc import Callable

from nija_tg.strategies.base import (
    Action,
    Prepared,
    Signal,
    Strategy,
    StrategyParams,
    StrategyPosition,
    candles_to_frame,
)

_REGISTRY: dict[str, Strategy] = {}


def register[S: type[Strategy]](name: str) -> Callable[[S], S]:
    """Class decorator: register a strategy under ``name`` (lowercase, unique)."""
    if not name or name != name.strip().lower() or not name.replace("_", "").isalnum():
        raise ValueError(f"bad strategy name {name!r}")

    def deco(cls: S) -> S:
        existing = _REGISTRY.get(name)
        if existing is not None and type(existing) is not cls:
            raise ValueError(f"strategy {name!r} is already registered")
        cls.name = name
        _REGISTRY[name] = cls()
        return cls

    return deco


def unregister(name: str) -> None:
    """Remove a strategy (tests register throw-away strategies)."""
    _REGISTRY.pop(name, None)


def get_strategy(name: str) -> Strategy:
    """The registered strategy instance; KeyError names the available ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown strategy {name!r}; available: {', '.join(available())}") from None


def available() -> list[str]:
    """Registered strategy names, sorted."""
    return sorted(_REGISTRY)


DEFAULT_STRATEGY = "adx_trend"

__all__ = [
    "DEFAULT_STRATEGY",
    "Action",
    "Prepared",
    "Signal",
    "Strategy",
    "StrategyParams",
    "StrategyPosition",
    "available",
    "candles_to_frame",
    "get_strategy",
    "register",
    "unregister",
]

from nija_tg.strategies import adx_trend as _adx_trend  # noqa: E402, F401  (registers itself)
