"""`python -m imserver`: run imserver standalone until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from imserver.secret import SECRET_FILE
from imserver.server import run_imserver
from imserver.settings import ImServerSettings

__all__ = ["main"]

logger = logging.getLogger("imserver")


def _parse(argv: Sequence[str] | None) -> ImServerSettings:
    defaults = ImServerSettings()
    parser = argparse.ArgumentParser(prog="python -m imserver", description="OpenIM v3.8-compatible IM server")
    parser.add_argument("--host", default=defaults.host, help="listen address (default %(default)s)")
    parser.add_argument("--api-port", type=int, default=defaults.api_port, help="HTTP API port (default %(default)s)")
    parser.add_argument("--ws-port", type=int, default=defaults.ws_port, help="gateway port (default %(default)s)")
    parser.add_argument("--data-dir", type=Path, default=defaults.data_dir, help="SQLite directory")
    parser.add_argument("--database-url", default=None, help="SQLAlchemy async URL (default: SQLite in data dir)")
    parser.add_argument(
        "--secret",
        default=os.environ.get("IMSERVER_SECRET", ""),
        help="admin and token-signing secret, OpenIM share.secret (env IMSERVER_SECRET; "
        "default: generated on first start and kept in DATA_DIR/secret)",
    )
    parser.add_argument(
        "--cors",
        action="store_true",
        help="answer every origin with Access-Control-Allow-Origin: * as OpenIM does (default off)",
    )
    args = parser.parse_args(argv)
    return ImServerSettings(
        secret=args.secret,
        cors_any_origin=args.cors,
        host=args.host,
        api_port=args.api_port,
        ws_port=args.ws_port,
        data_dir=args.data_dir,
        database_url=args.database_url,
    )


async def _serve(settings: ImServerSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # Where the secret is, never the secret: this goes to logs.
    secret = "as configured" if settings.secret else f"kept in {settings.data_dir / SECRET_FILE}"
    async with run_imserver(settings) as running:
        logger.info("imserver HTTP API on %s, message gateway on %s", running.api_url, running.ws_url)
        logger.info("admin secret %s", secret)
        await stop.wait()
    logger.info("imserver stopped")


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(_serve(_parse(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
