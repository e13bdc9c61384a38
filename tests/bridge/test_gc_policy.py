"""The node's GC policy (bridge/gc_policy.py, issue 14): what it freezes and when, and its pause timing.

Pause lengths are measured in bench/ab.py, not asserted here; these tests check
the policy's decisions on the real collector, and leave it as they found it.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from bridge.gc_policy import GcPolicy
from tests.support.wait import wait_until


@pytest.fixture
def policy() -> Iterator[GcPolicy]:
    before = gc.get_threshold()
    p = GcPolicy(settle=0.01, gen0=5_000, min_refreeze=3)
    yield p
    p.uninstall()
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


class Cyclic:
    """A core in miniature: an object in a reference cycle, garbage only to the collector."""

    def __init__(self) -> None:
        self.me = self


async def test_start_up_is_frozen_and_young_collections_are_rarer(policy: GcPolicy) -> None:
    policy.install()
    assert gc.get_freeze_count() > 0 and policy.freezes == 1
    assert gc.get_threshold()[0] == 5_000
    gc.collect(0)
    assert policy.pauses.count[0] >= 1 and policy.pauses.longest[0] > 0


async def test_a_login_batch_is_frozen_once_it_settles(policy: GcPolicy) -> None:
    policy.install()
    kept = [Cyclic() for _ in range(1_000)]
    for _ in kept[:3]:
        policy.core_started()  # one timer for the batch, pushed back by each login
    await wait_until(lambda: policy.freezes == 2, what="the freeze after the batch")
    assert gc.get_freeze_count() >= 1_000
    assert policy.freezes == 2, "one freeze for the three logins"


async def test_enough_ended_cores_unfreeze_collect_and_freeze_again(policy: GcPolicy) -> None:
    policy.install()
    ended = [Cyclic() for _ in range(5_000)]
    policy.core_started()
    await wait_until(lambda: policy.freezes == 2, what="the batch frozen")
    frozen = gc.get_freeze_count()
    del ended  # frozen cycles: the collector no longer sees them
    gc.collect()
    assert gc.get_freeze_count() > frozen - 4_000, "the cycles stay frozen"
    for _ in range(2):
        policy.core_ended()
    assert policy.refreezes == 0, "fewer than min_refreeze ended: nothing to do yet"
    policy.core_ended()
    await wait_until(lambda: policy.refreezes == 1, what="the refreeze")
    assert gc.get_freeze_count() <= frozen - 4_000, "the ended cycles were collected"


async def test_time_only_leaves_the_collector_alone() -> None:
    before = gc.get_threshold()
    p = GcPolicy(freeze=False)
    p.install()
    try:
        assert gc.get_threshold() == before and gc.get_freeze_count() == 0
        p.core_started()
        gc.collect()
        assert p.pauses.count[2] >= 1 and p.freezes == 0
    finally:
        p.uninstall()
