"""The one call path: every SDK function call, from REST, oimws or `Prefer: respond-async`.

In this order (issue 11; DESIGN.md "Calls and errors"):

1. locate the owner: a session another node runs raises NotOwnerError (421),
   which the forwarding middleware turns into the same request at the owner,
   so an async call is forwarded *before* anything is answered;
2. idempotency: with a client-given operationID a non-read-only function runs
   once per (session, operationID) within the window; a retry gets the first
   outcome (bridge/idempotency/) and, for an async call, no second run and no
   second `callResult`;
3. run on the live core (reviving a parked one), encode the result to JSON;
4. async calls only: the outcome is appended to the session's log as one
   `callResult` event.

A face (bridge/routes/functions.py, bridge/oimws/connection.py) parses its
input, calls :meth:`CallService.run` or :meth:`CallService.start`, and renders
what comes back or what is raised.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import to_jsonable_python

from bridge.errors import BridgeError, status_for
from bridge.eventlog import FencedOut
from bridge.eventlog.names import CALL_RESULT_EVENT
from bridge.idempotency import IdempotencyCache, Ran
from bridge.pool import SessionPool
from bridge.session_handle import SessionHandle
from core.errors import SdkError
from core.protocol.errcodes import ErrCode
from core.registry import SdkFunction

__all__ = ["CallService", "parse_params"]

log = logging.getLogger("openim.bridge.calls")


def parse_params(fn: SdkFunction, body: Any) -> BaseModel:
    """The function's parameter model from a JSON value; 400 naming every bad field."""
    try:
        return fn.params.model_validate({} if body is None else body)
    except ValidationError as exc:
        details = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors())
        raise BridgeError(400, ErrCode.ArgsError, details) from exc


class CallService:
    def __init__(self, pool: SessionPool, idempotency: IdempotencyCache) -> None:
        self._pool = pool
        self._idempotency = idempotency
        self._background: set[asyncio.Task[None]] = set()

    async def run(self, handle: SessionHandle, fn: SdkFunction, params: BaseModel, op: str, *, op_given: bool) -> Any:
        """Call `fn` and return its JSON-able result; raises BridgeError / SdkError."""
        await self._pool.require_local(handle)
        if self._once(fn, op_given):
            return await self._idempotency.run(
                handle.session_id, op, fn.rest_path, self._invoker(handle, fn, params, op)
            )
        return await self._invoke(handle, fn, params, op)

    async def start(
        self, handle: SessionHandle, fn: SdkFunction, params: BaseModel, op: str, *, op_given: bool
    ) -> None:
        """`Prefer: respond-async`: return once the call is accepted here; its outcome comes as `callResult`.

        A retry of an accepted call (same operationID) is accepted again
        without running or answering twice; the operationID of another
        function is refused at once (409), as for a synchronous call.
        """
        await self._pool.require_local(handle)
        if handle.closed:
            raise BridgeError(401, handle.record.ended_code or ErrCode.TokenNotExistError, "session ended")
        once = self._once(fn, op_given)
        if once:
            used_for = await self._idempotency.recorded_path(handle.session_id, op)
            if used_for is not None and used_for != fn.rest_path:
                raise BridgeError(409, ErrCode.ArgsError, f"operationID {op} was already used for {used_for}")
            if used_for is not None:
                return  # running or done: its callResult is (or will be) in the log once
        task = asyncio.create_task(self._deliver(handle, fn, params, op, once), name=f"async-call:{op}")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def aclose(self) -> None:
        """Cancel async calls still running (shutdown)."""
        tasks = list(self._background)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    @staticmethod
    def _once(fn: SdkFunction, op_given: bool) -> bool:
        return op_given and not fn.read_only

    def _invoker(self, handle: SessionHandle, fn: SdkFunction, params: BaseModel, op: str) -> Any:
        return lambda: self._invoke(handle, fn, params, op)

    async def _invoke(self, handle: SessionHandle, fn: SdkFunction, params: BaseModel, op: str) -> Any:
        async with self._pool.use(handle, op) as core:
            result = await core.call(fn, params, op)
        # pydantic-core's encoder: what jsonable_encoder gives for our models, ~10x
        # less CPU (issue 14: jsonable_encoder was 8% of a cached call).
        return to_jsonable_python(result, by_alias=True)

    async def _deliver(self, handle: SessionHandle, fn: SdkFunction, params: BaseModel, op: str, once: bool) -> None:
        if once:
            ran = await self._idempotency.ran(
                handle.session_id, op, fn.rest_path, self._invoker(handle, fn, params, op)
            )
            if ran.replayed:
                return  # another accepted copy of this call delivers (or delivered) the callResult
        else:
            try:
                ran = Ran(False, await self._invoke(handle, fn, params, op))
            except Exception as exc:
                ran = Ran(False, error=exc)
        outcome: dict[str, Any] = {"operationID": op, "function": fn.name}
        err = ran.error
        if err is None:
            outcome.update(errCode=0, errMsg="", data=ran.result)
        elif isinstance(err, SdkError):
            outcome.update(errCode=err.code, errMsg=err.msg, detail=err.detail, status=status_for(err.code))
        elif isinstance(err, BridgeError):
            outcome.update(errCode=err.code, errMsg=err.msg, detail=err.detail, status=err.status)
        else:
            log.error("async call %s failed", fn.name, exc_info=err)
            outcome.update(errCode=int(ErrCode.ServerInternalError), errMsg="ServerInternalError")
            outcome.update(detail="internal error", status=500)
        try:
            await self._pool.writer.append_once(handle, CALL_RESULT_EVENT, outcome)
        except (FencedOut, BridgeError) as exc:
            log.warning("callResult of %s (operationID %s) not logged: %s", fn.name, op, exc)
