"""Which stores the bridge runs on: SQL by default, Redis with BRIDGE_REDIS_URL, memory when ephemeral."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.eventlog import MemoryEventLog
from bridge.eventlog.redis import RedisEventLog
from bridge.eventlog.sql import SqlEventLog
from bridge.idempotency.sql import SqlOutcomes
from bridge.sessions import MemorySessionDirectory
from bridge.sessions.redis import RedisSessionDirectory
from bridge.sessions.sql import SqlSessionDirectory
from bridge.settings import BridgeSettings
from bridge.stores import open_stores
from tests.support.redis import REDIS_URL, eventually, redis_space


def test_settings_read_cluster_mode_from_env() -> None:
    env = {"BRIDGE_REDIS_URL": "redis://r:6379/2", "BRIDGE_REDIS_PREFIX": "prod:", "BRIDGE_NODE_ID": "node-7"}
    settings = BridgeSettings.from_env(env)
    assert (settings.redis_url, settings.redis_prefix, settings.node_id) == ("redis://r:6379/2", "prod:", "node-7")
    assert BridgeSettings.from_env({}).redis_url is None


def test_default_node_ids_are_unique_and_usable() -> None:
    first, second = BridgeSettings().node_id, BridgeSettings().node_id
    assert first != second
    assert first and not any(c.isspace() for c in first)
    with pytest.raises(ValueError, match="node_id"):
        BridgeSettings(node_id="two words").validate()


async def test_default_mode_keeps_everything_in_the_data_dirs_database(tmp_path: Path) -> None:
    settings = BridgeSettings(data_dir=tmp_path)
    async with open_stores(settings) as stores:
        assert isinstance(stores.events, SqlEventLog)
        assert isinstance(stores.directory, SqlSessionDirectory)
        assert isinstance(stores.outcomes, SqlOutcomes)
        assert stores.redis is None
        await stores.events.append("s", "OnTest", "{}")
    assert (tmp_path / "bridge.db").exists()
    async with open_stores(settings) as stores:  # the next process on the same data dir
        assert await stores.events.last_id("s") == 1


async def test_a_second_node_on_the_same_database_is_refused(tmp_path: Path) -> None:
    settings = BridgeSettings(data_dir=tmp_path)
    async with open_stores(settings):
        with pytest.raises(ValueError, match="one node per database"):
            async with open_stores(settings):
                pass


async def test_ephemeral_mode_keeps_everything_in_memory(tmp_path: Path) -> None:
    async with open_stores(BridgeSettings(data_dir=tmp_path, ephemeral=True)) as stores:
        assert isinstance(stores.events, MemoryEventLog)
        assert isinstance(stores.directory, MemorySessionDirectory)
        assert stores.redis is None and stores.outcomes is None
    assert not (tmp_path / "bridge.db").exists()


def test_ephemeral_from_env_and_flag() -> None:
    assert BridgeSettings.from_env({"BRIDGE_EPHEMERAL": "1"}).ephemeral
    assert not BridgeSettings.from_env({}).ephemeral


@pytest.mark.services
async def test_redis_url_switches_both_stores_to_one_redis_pool() -> None:
    async with redis_space() as space:
        node = f"node-{space.prefix.strip(':').rsplit(':', 1)[-1]}"  # unique: other tests' nodes share this Redis
        settings = BridgeSettings(redis_url=REDIS_URL, redis_prefix=space.prefix, node_id=node)
        async with open_stores(settings) as stores:
            assert isinstance(stores.events, RedisEventLog)
            assert isinstance(stores.directory, RedisSessionDirectory)
            assert stores.directory.node_id == node
            await stores.events.append("s", "OnTest", "{}")
            assert await space.keys() == [f"{space.prefix}ev:s", f"{space.prefix}ev:s:last"]
            names = [c.get("name") for c in await space.client.client_list()]
            assert f"openim-bridge:{node}" in names

        async def pool_closed() -> bool:
            return f"openim-bridge:{node}" not in [c.get("name") for c in await space.client.client_list()]

        await eventually(pool_closed, "the node's connections to close with the app")
