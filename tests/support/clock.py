"""Clocks tests can move: time under test is injected, never slept through."""

from __future__ import annotations

import time
from dataclasses import dataclass

from tests.support.wait import poll_answer, wait_until

__all__ = ["FakeClock", "MovableClock", "poll_answer", "wait_until"]


@dataclass
class FakeClock:
    """A clock that stands still until the test moves ``now`` by hand."""

    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class MovableClock:
    """Real time plus an offset the test can advance."""

    base: float = 0.0
    offset: float = 0.0
    wall: bool = True

    def __call__(self) -> float:
        return (time.time() if self.wall else time.monotonic()) + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds
