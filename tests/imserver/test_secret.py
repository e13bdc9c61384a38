"""The server secret: generated per data dir (0600), kept across starts, or configured (issue 10)."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import httpx
import pytest

from imserver.db import make_engine, make_sessionmaker
from imserver.secret import SECRET_FILE, load_or_create_secret
from imserver.server import run_imserver
from imserver.settings import ImServerSettings
from imserver.tokens import TokenService
from tests.support.imadmin import admin_token, envelope


async def _admin_code(http: httpx.AsyncClient, api_url: str, secret: str) -> int:
    r = await envelope(http, api_url, "/auth/get_admin_token", {"secret": secret, "userID": "imAdmin"}, None)
    code: int = r["errCode"]
    return code


def test_generated_secret_file(tmp_path: Path) -> None:
    data_dir = tmp_path / "new" / "dir"
    secret = load_or_create_secret(data_dir)
    path = data_dir / SECRET_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == secret + "\n"
    assert len(secret) >= 43 and secret.replace("-", "").replace("_", "").isalnum()
    assert load_or_create_secret(data_dir) == secret
    assert load_or_create_secret(tmp_path / "other") != secret
    assert [p.name for p in data_dir.iterdir()] == [SECRET_FILE]  # no temporary file left


def test_an_existing_secret_file_is_used_as_is(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / SECRET_FILE
    path.write_text("operator-chosen\n")
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="imserver.secret"):
        assert load_or_create_secret(tmp_path) == "operator-chosen"
    assert "readable by other users" in caplog.text and "operator-chosen" not in caplog.text
    path.write_text("\n")
    with pytest.raises(ValueError, match="is empty"):
        load_or_create_secret(tmp_path)


async def test_default_secret_is_generated_and_kept(tmp_path: Path) -> None:
    async with httpx.AsyncClient() as http:
        settings = ImServerSettings(data_dir=tmp_path)
        assert settings.secret == ""
        async with run_imserver(settings, api_port=0, ws_port=0) as running:
            generated = running.settings.secret
            assert generated == (tmp_path / SECRET_FILE).read_text().strip()
            assert generated not in repr(running.settings)  # never in a log line
            assert await _admin_code(http, running.api_url, "openIM123") == 1002  # OpenIM's default is refused
            assert await _admin_code(http, running.api_url, "") == 1002
            assert await admin_token(http, running.api_url, secret=generated)
        async with run_imserver(ImServerSettings(data_dir=tmp_path), api_port=0, ws_port=0) as again:
            assert again.settings.secret == generated  # same data dir: same secret, old tokens stay valid
            assert await admin_token(http, again.api_url, secret=generated)


async def test_configured_secret(tmp_path: Path) -> None:
    async with httpx.AsyncClient() as http:
        settings = ImServerSettings(data_dir=tmp_path, secret="openIM123")
        async with run_imserver(settings, api_port=0, ws_port=0) as running:
            assert await admin_token(http, running.api_url, secret="openIM123")  # works once configured
            assert await _admin_code(http, running.api_url, "openIM1234") == 1002
        assert not (tmp_path / SECRET_FILE).exists()


async def test_token_service_refuses_an_empty_secret(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'im.db'}")
    try:
        with pytest.raises(ValueError, match="needs a secret"):
            TokenService(ImServerSettings(data_dir=tmp_path), make_sessionmaker(engine))
    finally:
        await engine.dispose()
