"""Cluster tests run real processes: a failing test's report ends with their log tails."""

from __future__ import annotations

from collections.abc import Generator

import pytest

from tests.support.cluster import Cluster


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        clusters = {id(v): v for v in getattr(item, "funcargs", {}).values() if isinstance(v, Cluster)}
        for cluster in clusters.values():
            report.sections.append((f"cluster process logs ({report.when})", cluster.log_tails()))
    return report
