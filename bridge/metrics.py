"""`/metrics`: the node's state in Prometheus text format, read at scrape time.

No module globals (DESIGN.md): each app gets its own registry, and a collector
reads the pool, event log and idempotency cache when Prometheus scrapes, so
nothing is counted twice and the hot paths carry no metric calls of their own.
Counters are per node; Prometheus sums them over a cluster.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["metrics_text", "registry_for"]

_CORE_STATS = {
    "inbox_dropped": "pushes live cores dropped on a full inbox (policy drop-and-resync; stored ones recovered)",
    "overflow_resyncs": "seq syncs live cores ran to recover dropped pushes",
    "bad_pushes": "pushes or notifications live cores could not decode and skipped",
    "failed_pushes": "pushes whose handling raised in live cores: skipped",
    "bad_frames": "gateway frames live cores could not decode: skipped",
    "task_crashes": "long-lived tasks of live cores that raised and were restarted",
}


class _BridgeCollector(Collector):
    def __init__(self, services: Any, forward: Any) -> None:
        self._svc = services
        self._forward = forward

    def collect(self) -> Iterator[Metric]:
        pool = self._svc.pool
        gauges = {
            "openim_bridge_live_cores": ("SDK cores running on this node", pool.live_cores),
            "openim_bridge_sessions": ("sessions this node holds (live or parked)", pool.sessions),
            "openim_bridge_calls_in_flight": ("SDK calls running on this node", pool.drain.in_flight),
            "openim_bridge_draining": ("1 while this node drains after SIGTERM", int(pool.drain.draining)),
            # Tasks per live core is a cost the pool bounds (issue 14: at most one per idle session).
            "openim_bridge_asyncio_tasks": ("asyncio tasks in this node's event loop", len(asyncio.all_tasks())),
        }
        for name, (text, value) in gauges.items():
            yield GaugeMetricFamily(name, text, value=value)
        counters = {
            "openim_bridge_parked": ("cores parked (idle or to make room)", pool.parking.parked_total),
            "openim_bridge_revived": ("parked cores started again from their checkpoint", pool.revived_total),
            "openim_bridge_adopted": ("sessions this node took up from the shared directory", pool.adopted_total),
            "openim_bridge_leases_lost": (
                "cores dropped because their lease moved or their events could not be logged",
                pool.dropper.dropped_total,
            ),
            "openim_bridge_idempotent_replays": (
                "retried calls answered from a recorded outcome",
                self._svc.idempotency.replays,
            ),
            "openim_bridge_forwarded": (
                "requests relayed to the node that runs their session",
                self._forward.forwarded,
            ),
            "openim_bridge_forward_failed": (
                "requests for another node's session answered 503 (owner unreachable)",
                self._forward.failed,
            ),
            "openim_bridge_events_dropped": (
                "events removed by log retention on this node",
                getattr(self._svc.events, "dropped", 0),
            ),
        }
        hooks = getattr(self._svc, "webhooks", None)
        if hooks is not None:
            counters |= {
                "openim_bridge_webhook_delivered": (
                    "webhook POSTs a receiver acknowledged (2xx)",
                    hooks.delivered_total,
                ),
                "openim_bridge_webhook_failed_attempts": (
                    "webhook POSTs that failed and were retried or dead-lettered",
                    hooks.failed_attempts_total,
                ),
                "openim_bridge_webhook_dead_letters": (
                    "webhook events given up on after BRIDGE_WEBHOOK_MAX_ATTEMPTS",
                    hooks.dead_letters_total,
                ),
                "openim_bridge_webhook_events_lost": (
                    "events a lagging webhook missed because log retention removed them",
                    hooks.events_lost_total,
                ),
            }
        for name, (text, value) in counters.items():
            yield CounterMetricFamily(name, text, value=value)
        # What live cores skipped or recovered from (core.core.CoreStats), summed.
        # Counts of cores that stopped since are not kept: a rate, not an audit.
        totals: dict[str, int] = {}
        for core in pool.live():
            stats = getattr(core, "stats", None)
            for key in _CORE_STATS:
                totals[key] = totals.get(key, 0) + int(getattr(stats, key, 0))
        for key, text in _CORE_STATS.items():
            yield GaugeMetricFamily(f"openim_bridge_core_{key}", text, value=totals.get(key, 0))
        policy = getattr(pool, "gc_policy", None)
        if policy is not None:  # bridge/gc_policy.py: pauses by generation
            pauses = policy.pauses
            longest = GaugeMetricFamily(
                "openim_bridge_gc_pause_longest_seconds", "longest collector pause", labels=["generation"]
            )
            total = CounterMetricFamily(
                "openim_bridge_gc_pause_seconds", "time spent in collector pauses", labels=["generation"]
            )
            count = CounterMetricFamily("openim_bridge_gc_collections", "collections run", labels=["generation"])
            for gen in range(3):
                longest.add_metric([str(gen)], pauses.longest[gen])
                total.add_metric([str(gen)], pauses.total[gen])
                count.add_metric([str(gen)], pauses.count[gen])
            yield from (longest, total, count)
            yield CounterMetricFamily("openim_bridge_gc_freezes", "gc.freeze runs", value=policy.freezes)
        yield CounterMetricFamily(
            "openim_bridge_core_crash_parked",
            "cores parked because their tasks kept crashing",
            value=pool.crashed_total,
        )


def registry_for(services: Any, forward: Any) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_BridgeCollector(services, forward))
    return registry


def metrics_text(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
