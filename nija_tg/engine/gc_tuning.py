"""The engine's settings of Python's garbage collector (issue 13).

The engine holds a large, long-lived state (1,000 user loops: settings, strategies,
books, the hub's candle frames) and makes many short-lived objects per candle close.
With the default thresholds (700, 10, 10) a full collection walks all of that state and
lands inside a close: 60–180 ms of one close's CPU at 1,000 paper users
(docs/benchmarks.md, /work/notes/bench_h9.md).

Two settings, used by the engine process (``engine_main``, ``Daemon``) and by
``bench.engine_fanout`` at the same points of its run:

- ``configure()`` at start: a larger first-generation threshold, so that young
  collections run less often (fewer survivors promoted to be walked again later).
- ``freeze_long_lived()`` once the loops have started: one collection, then every
  object still alive moves to the permanent generation (``gc.freeze``), which later
  collections do not walk. Objects made later are collected as usual. The cost: what
  was alive at that moment and dies later (a loop that stops, replaced candles) is
  freed by reference counting as usual, but a reference cycle among frozen objects is
  not reclaimed.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger("nija_tg.engine")

# (gen 0, gen 1, gen 2); Python's default is (700, 10, 10)
ENGINE_THRESHOLDS = (50_000, 20, 20)


def configure(thresholds: tuple[int, int, int] = ENGINE_THRESHOLDS) -> tuple[int, int, int]:
    """Set the collector's thresholds; returns those set."""
    gc.set_threshold(*thresholds)
    log.info("garbage collector thresholds %s", gc.get_threshold())
    return gc.get_threshold()


def freeze_long_lived() -> int:
    """Collect once, then move every object still alive out of the collector's
    generations (they are not walked by later collections). Returns how many objects are
    frozen in all (``gc.get_freeze_count``)."""
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info("garbage collector: %d long-lived objects frozen", frozen)
    return frozen
