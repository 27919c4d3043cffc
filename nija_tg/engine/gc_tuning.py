"""The engine's settings of Python's garbage collector (issue 13).

The engine holds a large, long-lived state (1,000 user loops: settings, strategies,
books, the hub's candle frames) and makes many short-lived objects per candle close.
With the default thresholds (700, 10, 10) a full collection walks all of that state and
lands inside a close: 60–180 ms of one close's CPU at 1,000 paper users
(docs/benchmarks.md, /work/notes/bench_h9.md).

Three settings, used by the engine process (``engine_main``, ``Daemon``) and by
``bench.engine_fanout`` at the same points of its run:

- ``configure()`` at start: a larger first-generation threshold, so that young
  collections run less often (fewer survivors promoted to be walked again later).
- ``freeze_long_lived()`` once the loops have started: one collection, then every
  object still alive moves to the permanent generation (``gc.freeze``), which later
  collections do not walk. Objects made later are collected as usual. The cost: what
  was alive at that moment and dies later (a loop that stops, replaced candles) is
  freed by reference counting as usual, but a reference cycle among frozen objects is
  not reclaimed.
- Collections between closes, not inside them (``configure``'s ``between_closes``):
  the market hub calls ``close_started()`` when it wakes the loops for a close and
  ``close_done()`` once every loop has finished with it. In between, automatic
  collection is off (reference counting frees what it always frees; only reference
  cycles made during the close wait); ``close_done()`` runs the collection the
  thresholds call for then (the oldest generation whose count is over its threshold,
  as Python would pick), in the idle time before the next close, and turns automatic
  collection back on. A close that never ends (a loop stuck) turns it back on after
  ``MAX_HOLD_S``. At 1,000 paper users one young collection of 40–110 ms used to land
  inside the close with the orders (bench: ``gc_each_close``).
"""

from __future__ import annotations

import asyncio
import gc
import logging

log = logging.getLogger("nija_tg.engine")

# (gen 0, gen 1, gen 2); Python's default is (700, 10, 10)
ENGINE_THRESHOLDS = (50_000, 20, 20)


# a close that has not ended after this long turns automatic collection back on
MAX_HOLD_S = 60.0


class _Hold:
    """Whether collections wait for the end of the close (module docstring)."""

    between_closes = False  # configure() turns it on (the engine process, the bench)
    held = False  # automatic collection is off for a close now
    timer: asyncio.TimerHandle | None = None
    collections = 0  # collections run by close_done


def configure(
    thresholds: tuple[int, int, int] = ENGINE_THRESHOLDS, *, between_closes: bool = True
) -> tuple[int, int, int]:
    """Set the collector's thresholds, and whether collections wait for the end of each
    candle close (``close_started`` / ``close_done``); returns the thresholds set."""
    gc.set_threshold(*thresholds)
    _Hold.between_closes = between_closes
    if not between_closes:
        close_done()
    log.info(
        "garbage collector thresholds %s%s",
        gc.get_threshold(),
        ", collections between candle closes" if between_closes else "",
    )
    return gc.get_threshold()


def close_started() -> None:
    """A candle close begins (the hub woke the loops): no automatic collection until
    ``close_done`` (or ``MAX_HOLD_S``). Nothing when not configured, or when automatic
    collection is off already (someone else's choice, left as it is)."""
    if not _Hold.between_closes or _Hold.held or not gc.isenabled():
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    gc.disable()
    _Hold.held = True
    _Hold.timer = loop.call_later(MAX_HOLD_S, close_done)


def close_done() -> int | None:
    """Every loop has finished the close: run the collection the thresholds call for
    (the oldest generation over its threshold, none when none is), then automatic
    collection on again. Returns the generation collected (None: none, or not held)."""
    if not _Hold.held:
        return None
    _Hold.held = False
    if _Hold.timer is not None:
        _Hold.timer.cancel()
        _Hold.timer = None
    generation = due_generation()
    try:
        if generation is not None:
            gc.collect(generation)
            _Hold.collections += 1
    finally:
        gc.enable()  # whatever the collection did
    return generation


def due_generation() -> int | None:
    """The generation an automatic collection would take now: the oldest whose count
    is over its threshold (None: none is, or thresholds of 0: collection off)."""
    counts, thresholds = gc.get_count(), gc.get_threshold()
    if not thresholds[0]:
        return None
    for generation in (2, 1, 0):
        limit = thresholds[generation] if generation < len(thresholds) else 0
        if limit and counts[generation] > limit:
            return generation
    return None


def held() -> bool:
    """Whether automatic collection is off for a close now."""
    return _Hold.held


def freeze_long_lived() -> int:
    """Collect once, then move every object still alive out of the collector's
    generations (they are not walked by later collections). Returns how many objects are
    frozen in all (``gc.get_freeze_count``)."""
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info("garbage collector: %d long-lived objects frozen", frozen)
    return frozen
