"""The whole mechanism in a pytest run of its own: a wrong field name fails the run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.conformance.wasm_descriptors import Schema

_ROOT = Path(__file__).resolve().parents[2]

_INNER = """
import asyncio

import httpx

from core.transport.api import ApiClient


def answer(request):
    return httpx.Response(200, json={{"errCode": 0, "errMsg": "", "data": {{"groupInfos": []}}}})


async def call():
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        data = await ApiClient(http, "http://upstream.invalid", "t").post("/group/get_groups_info", {body}, "op")
        assert data.get("groupInfos") == []


def test_core_calls_the_server():
    asyncio.run(call())
"""


def _run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, body: str) -> pytest.RunResult:
    pytester.makepyfile(test_inner=_INNER.format(body=body))
    monkeypatch.setenv("PYTHONPATH", str(_ROOT))
    return pytester.runpytest_subprocess("-p", "tests.support.conformance.plugin", "-p", "no:cacheprovider")


def test_a_wrong_field_name_fails_the_run(
    schema: Schema, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _run(pytester, monkeypatch, '{"groupIDs": ["g"], "groupIds": ["g"]}')
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*OpenIM conformance (openimsdk/protocol v0.0.73-alpha.12): 1 problems in 1 HTTP bodies on 1 routes*",
            "POST /group/get_groups_info: groupIds differs from field 'groupIDs' of openim.group.GetGroupsInfoReq"
            " in case only  [x1; first in test_inner.py::test_core_calls_the_server]",
            "*1 passed*",
        ]
    )


def test_conforming_traffic_passes_the_run(
    schema: Schema, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _run(pytester, monkeypatch, '{"groupIDs": ["g"]}')
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*1 HTTP bodies on 1 routes, 0 gateway payloads, 1 answer keys read: all conform*"])
