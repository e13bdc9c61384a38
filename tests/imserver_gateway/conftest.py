from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.imserver_gateway.harness import Env, gateway_env


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async with gateway_env(tmp_path) as e:
        yield e
