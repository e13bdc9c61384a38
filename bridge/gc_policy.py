"""The node's garbage-collector policy: no full collection walks the live sessions (issue 14).

A live core is a few hundred long-lived objects (modules, state dicts, its
gateway client), so with thousands of sessions CPython's full collection walks
hundreds of thousands of objects that never become garbage: ~100 ms pauses at a
few hundred sessions, all delivery stopped meanwhile. So:

- after start-up (imports, app, stores) and after each batch of logins (once no
  login started for `settle` seconds, or every `batch` logins) what is alive is collected once and moved
  to the permanent generation (`gc.freeze`): later collections never look at it
  again. The collection before each freeze walks only what came since the last one;
- cores that end (park, logout) and were frozen become garbage the collector no
  longer sees (a core is a reference cycle), so once the cores ended since the
  last freeze reach a quarter of the frozen ones (at least `min_refreeze`),
  everything is unfrozen, collected and frozen again: one full pause, amortised
  over that many ends, and the memory frozen garbage holds stays bounded;
- the young generation is collected every `gen0` allocations instead of 700:
  fewer collections of request garbage that refcounting frees anyway.

Pauses are timed through `gc.callbacks` (per generation: count, total, longest)
for /metrics and bench/. Installed by `openim-bridge serve`, the process's owner
(settings.gc_policy); an app embedded in another process leaves its GC alone.
"""

from __future__ import annotations

import asyncio
import gc
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["GcPauses", "GcPolicy"]


@dataclass(slots=True)
class GcPauses:
    """Collections and their pauses by generation, since the policy was installed."""

    count: list[int] = field(default_factory=lambda: [0, 0, 0])
    total: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    longest: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    _started: float = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        gen, took = int(info["generation"]), time.perf_counter() - self._started
        self.count[gen] += 1
        self.total[gen] += took
        self.longest[gen] = max(self.longest[gen], took)


class GcPolicy:
    def __init__(
        self, *, freeze: bool = True, settle: float = 1.0, batch: int = 64, gen0: int = 10_000, min_refreeze: int = 64
    ) -> None:
        self.freeze = freeze  # False: only time the pauses (the baseline for bench/)
        self.settle = settle
        self.batch = batch
        self.gen0 = gen0
        self.min_refreeze = min_refreeze
        self.pauses = GcPauses()
        self.freezes = 0
        self.refreezes = 0
        self._frozen_cores = 0  # cores alive at the last freeze
        self._new_cores = 0  # started since the last freeze
        self._ended = 0  # ended since the last (re)freeze
        self._timer: asyncio.TimerHandle | None = None
        self._installed = False
        self._saved_threshold: tuple[int, int, int] | None = None

    def install(self) -> None:
        """Tune the thresholds, start timing pauses, and freeze what start-up left alive."""
        if self._installed:
            return
        self._installed = True
        gc.callbacks.append(self.pauses)
        if not self.freeze:
            return
        self._saved_threshold = gc.get_threshold()
        _, gen1, gen2 = self._saved_threshold
        gc.set_threshold(self.gen0, gen1, gen2)
        self._freeze()

    def uninstall(self) -> None:
        if not self._installed:
            return
        self._installed = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        gc.callbacks.remove(self.pauses)
        if self._saved_threshold is not None:
            gc.set_threshold(*self._saved_threshold)
            gc.unfreeze()

    def core_started(self) -> None:
        """A core logged in: freeze once the batch it belongs to is over."""
        if not (self._installed and self.freeze):
            return
        self._new_cores += 1
        if self._timer is not None:
            self._timer.cancel()
        # A long stream of logins never settles: freeze every `batch` cores meanwhile, so
        # the collection before a freeze walks at most that many cores' objects.
        delay = 0.0 if self._new_cores >= self.batch else self.settle
        self._timer = asyncio.get_running_loop().call_later(delay, self._settled)

    def core_ended(self) -> None:
        if not (self._installed and self.freeze):
            return
        self._ended += 1
        if self._ended >= max(self.min_refreeze, self._frozen_cores // 4) and self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.settle, self._settled)

    def _settled(self) -> None:
        self._timer = None
        if self._ended >= max(self.min_refreeze, self._frozen_cores // 4):
            # Frozen garbage (ended cores) is collectable only once unfrozen.
            gc.unfreeze()
            self.refreezes += 1
            self._frozen_cores = max(0, self._frozen_cores - self._ended)
            self._ended = 0
        self._freeze()

    def _freeze(self) -> None:
        gc.collect()  # what is garbage now is not frozen (walks only the unfrozen objects)
        gc.freeze()
        self.freezes += 1
        self._frozen_cores += self._new_cores
        self._new_cores = 0
