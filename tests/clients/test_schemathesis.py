"""schemathesis against the live app (issue 16): the bridge on an imserver, as every test runs
it, fuzzed from openapi/openapi.json over every documented operation. A failure is a place
where the spec and the bridge disagree: an undocumented status, a body off its schema, a
wrong content type or header, or a 5xx.

Checks run: not_a_server_error, status_code_conformance, content_type_conformance,
response_schema_conformance (SSE events too), response_headers_conformance,
unsupported_method and allow_header_conformance (a 405 names every method). Not run:
negative_data_rejection and positive_data_acceptance, whose remaining findings are rules the
schema cannot say (exactly one of recvID or groupID; a file path that must be an upload's
URL), answered 400 with the rule named.

The default run is bounded (examples + fuzzing, two cases an operation: well under 60 s);
the slow variant adds the coverage phase and more cases. logout runs last, on its own: it
ends the session every other operation uses."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from tests.support.stack import run_stack

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "openapi" / "openapi.json"
CLI = Path(sys.executable).parent / "schemathesis"
CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_schema_conformance,response_headers_conformance,unsupported_method,allow_header_conformance"
)


async def _schemathesis(url: str, token: str, cwd: Path, *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        str(CLI),
        "run",
        str(SPEC),
        "--url",
        url,
        "-H",
        f"Authorization: Bearer {token}",
        "--checks",
        CHECKS,
        "--workers",
        "1",
        "--seed",
        "16",
        "--no-shrink",
        *args,
        cwd=cwd,  # its .schemathesis/ cache goes to the test's tmp dir
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 900)
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace")


async def _run(tmp: Path, *budget: str) -> None:
    if not CLI.exists():
        pytest.fail("schemathesis is not installed: pip install -e '.[dev]'", pytrace=False)
    async with run_stack(tmp / "stack") as stack:
        (user_id,) = await stack.new_users(1, "st")
        user = await stack.login(user_id)
        for selection in (("--exclude-operation-id", "logout"), ("--include-operation-id", "logout")):
            rc, out = await _schemathesis(stack.bridge.url, user.session_token, tmp, *budget, *selection)
            assert rc == 0, out[-20000:]
            assert " passed" in out and "Authentication failed" not in out, out[-5000:]


async def test_the_bridge_conforms_to_its_spec(tmp_path: Path) -> None:
    await _run(tmp_path, "--phases", "examples,fuzzing", "--max-examples", "2")


@pytest.mark.slow
async def test_the_bridge_conforms_to_its_spec_long(tmp_path: Path) -> None:
    await _run(tmp_path, "--phases", "examples,coverage,fuzzing", "--max-examples", "20")
