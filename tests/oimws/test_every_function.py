"""Every registry function over `/ws`, with the positional arguments open-im-sdk sends.

The same scenario as tests/e2e/test_every_function.py, each step's REST body
turned into the argument array `bridge/oimws/argmap.py` says the Go SDK takes
(objects and arrays as JSON text, as open-im-sdk sends them): each answer must
be errCode 0 for that function, its `data` a value of the declared result
type (`""` for none).
"""

from __future__ import annotations

import json
from typing import Any

from bridge.oimws import argmap
from core.registry import SdkFunction, all_functions
from tests.oimws.client import OimwsClient, ws_url
from tests.support.every_function import USERS, missing, run_every_function, upload_objects, validate_result
from tests.support.stack import Stack


def _arguments(fn: SdkFunction, params: dict[str, Any]) -> list[Any]:
    bound = argmap.resolve(fn.name, all_functions())
    assert bound is not None, f"{fn.name} has no oimws argument mapping"
    if bound.spec.whole:
        return [json.dumps(params)]
    unplaced = sorted(set(params) - set(bound.spec.fields))
    assert not unplaced, f"{fn.name}: {unplaced} cannot be given positionally {bound.spec.describe()}"
    args = [_wire(params.get(f)) for f in bound.spec.fields]
    while args and args[-1] is None:  # trailing arguments left out
        args.pop()
    return args


def _wire(value: Any) -> Any:
    """An object or array goes as JSON text (open-im-sdk JSON.stringify's them); the rest as is."""
    return json.dumps(value) if isinstance(value, dict | list) else value


async def test_every_registry_function_over_oimws(stack: Stack) -> None:
    ids = dict(zip(USERS, await stack.new_users(len(USERS), prefix="s"), strict=True))
    clients = {who: await OimwsClient.open(ws_url(stack.bridge.url), uid) for who, uid in ids.items()}
    try:
        for who, client in clients.items():
            assert (await client.login(await stack.token(ids[who]))).err_code == 0

        async def invoke(who: str, fn: SdkFunction, params: dict[str, Any]) -> Any:
            args = _arguments(fn, params)
            frame = await clients[who].request(fn.name, *args)
            assert (frame.event, frame.err_code) == (fn.name, 0), f"{fn.name} as {who} with {args}: {frame}"
            if fn.result is None:
                assert frame.data == '""', f"{fn.name} declares no result but answered {frame.data!r}"
                return None
            validate_result(fn, frame.value)
            return frame.value

        kept = await upload_objects(stack.http, stack.api_url, await stack.token(ids["a"]), ids["a"])
        called = await run_every_function(ids, invoke, kept=kept)
        left = missing(called)
        assert not left, (
            f"registry functions not called over oimws: {left}: add steps to tests/support/every_function.py"
        )
    finally:
        for client in clients.values():
            await client.close()
