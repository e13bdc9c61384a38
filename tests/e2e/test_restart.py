"""An embedded bridge restarted on the same data directory keeps saving checkpoints.

Checkpoints carry their writer's fence and refuse a lower one; a restarted
process must therefore hand out higher fences than the last (they start at
the clock), or every save after a restart would be refused and each revival
would start from the checkpoint of the previous run.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from core.checkpoint import make_engine
from tests.support.stack import run_stack


async def _stored_fence(data_dir: Path, user_id: str) -> int:
    engine = make_engine(f"sqlite+aiosqlite:///{data_dir / 'bridge.db'}")
    try:
        async with engine.connect() as conn:
            row = (
                await conn.execute(text("SELECT fence FROM core_checkpoints WHERE user_id = :u"), {"u": user_id})
            ).one()
    finally:
        await engine.dispose()
    return int(row[0])


async def test_checkpoints_are_saved_after_a_restart(tmp_path: Path) -> None:
    async with run_stack(tmp_path) as stack:
        (a_id,) = await stack.new_users(1)
        a = await stack.login(a_id)
        handle = stack.bridge.pool.handle(a.session_id)
        assert handle is not None and handle.fence is not None
        first = handle.fence
    assert await _stored_fence(tmp_path / "bridge", a_id) == first  # parked on the way out

    async with run_stack(tmp_path) as stack:  # the same imserver and bridge data
        a = await stack.login(a_id)
        handle = stack.bridge.pool.handle(a.session_id)
        assert handle is not None and handle.fence is not None and handle.fence > first
        assert await _stored_fence(tmp_path / "bridge", a_id) == handle.fence  # the login's save was taken
