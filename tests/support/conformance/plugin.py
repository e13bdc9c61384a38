"""pytest plugin: check everything core sends upstream during the run (issue 13).

Loaded by tests/conftest.py. At start it reads the real server's schema from the
official wasm SDK (wasm_descriptors.py) and installs the recorder; every HTTP
body, gateway payload and answer key that core reads is checked as it happens.
At the end, any finding fails the run (exit status 1) with a report naming the
route, the key, the problem and the first test that caused it.

Without the wasm (scripts/install-interop.sh not run) the check is skipped
with a warning locally and fails the run in CI, like the other set-up checks.
"""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest

from tests.support.conformance.recorder import Collector, current_test, install, uninstall
from tests.support.conformance.wasm_descriptors import EXPECTED_PROTOCOL, WASM_PATH, load_schema, schema_problem

__all__: list[str] = []

_KEY = pytest.StashKey[Collector]()
_PROBLEM = pytest.StashKey[str]()
_HEADER = "OpenIM conformance (openimsdk/protocol " + EXPECTED_PROTOCOL.decode().split("@")[1]


def pytest_configure(config: pytest.Config) -> None:
    problem = schema_problem(WASM_PATH)
    if problem is not None:
        config.stash[_PROBLEM] = f"{problem}; run scripts/install-interop.sh"
        return
    collector = Collector(load_schema(WASM_PATH))
    config.stash[_KEY] = collector
    install(collector)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _KEY in config.stash:
        uninstall()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    token = current_test.set(item.nodeid)
    try:
        return (yield)
    finally:
        current_test.reset(token)


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    failed = bool(config.stash[_KEY].findings) if _KEY in config.stash else bool(os.environ.get("CI"))
    if failed and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    tr = terminalreporter
    if _PROBLEM in config.stash:
        severity = "FAILED (CI)" if os.environ.get("CI") else "skipped"
        tr.write_sep("=", f"{_HEADER}): {severity}", red=bool(os.environ.get("CI")), yellow=True)
        tr.write_line(config.stash[_PROBLEM])
        return
    collector = config.stash.get(_KEY, None)
    if collector is None:
        return
    counts = (
        f"{collector.http.total()} HTTP bodies on {len(collector.http)} routes, "
        f"{collector.gateway.total()} gateway payloads, {collector.reads} answer keys read"
    )
    if not collector.findings:
        tr.write_sep("=", f"{_HEADER}): {counts}: all conform", green=True)
        return
    tr.write_sep("=", f"{_HEADER}): {len(collector.findings)} problems in {counts}", red=True)
    for line in collector.report():
        tr.write_line(line)
