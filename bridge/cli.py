"""`openim-bridge` command line: serve, imserver, openapi.

This is the composition root: the only place that knows both the bridge and
the embedded imserver. `serve` without `--upstream-*` starts an imserver on
loopback and points the bridge at it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import json
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

from bridge.app import VERSION, create_app, drain
from bridge.http_limits import HttpLimits
from bridge.logs import LOG_FORMATS, configure_logging
from bridge.oimws import oimws_app
from bridge.server import advertised_url, bind, run_loop, serve_app
from bridge.settings import BridgeSettings

__all__ = ["main", "openapi_document"]

log = logging.getLogger("openim.cli")


@contextlib.contextmanager
def _port_role(what: str) -> Iterator[None]:
    """Name the port's role (and its flag) when it is already in use: there are up to four."""
    try:
        yield
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise OSError(exc.errno, f"{what}: {exc.strerror}") from exc
        raise


def openapi_document() -> str:
    """The OpenAPI spec as checked in at openapi/openapi.json."""
    app = create_app(BridgeSettings(upstream_api="http://upstream", upstream_ws="ws://upstream"))
    return json.dumps(app.openapi(), indent=2, sort_keys=False) + "\n"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="openim-bridge", description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--version", action="version", version=f"%(prog)s {VERSION}")
    sub = p.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the bridge (with an embedded imserver unless --upstream-* is given)")
    serve.add_argument("--host", help="listen address (default 127.0.0.1, env BRIDGE_HOST)")
    serve.add_argument("--port", type=int, help="listen port (default 10008, env BRIDGE_PORT)")
    serve.add_argument("--imserver-api-port", type=int, help="embedded imserver HTTP API port (default 10002)")
    serve.add_argument("--imserver-ws-port", type=int, help="embedded imserver gateway port (default 10001)")
    serve.add_argument(
        "--imserver-secret",
        help="embedded imserver admin secret (env BRIDGE_IMSERVER_SECRET; default: generated "
        "on first start and kept in DATA_DIR/imserver/secret)",
    )
    serve.add_argument("--data-dir", type=Path, help="data directory (default ./data, env BRIDGE_DATA_DIR)")
    serve.add_argument("--upstream-api", help="OpenIM HTTP API URL, e.g. http://openim:10002")
    serve.add_argument("--upstream-ws", help="OpenIM message gateway URL, e.g. ws://openim:10001")
    serve.add_argument(
        "--oimws-port",
        type=int,
        help="also serve the oimws-compatible WebSocket on this port, as oimws did on 10003 "
        "(it is always on /ws of --port; env BRIDGE_OIMWS_PORT)",
    )
    serve.add_argument(
        "--database-url",
        help="checkpoints, and without Redis sessions and event logs (default SQLite under --data-dir, "
        "env BRIDGE_DATABASE_URL)",
    )
    serve.add_argument("--redis-url", help="cluster mode: sessions and event logs in Redis (env BRIDGE_REDIS_URL)")
    serve.add_argument(
        "--ephemeral",
        action="store_true",
        default=None,
        help="keep sessions and event logs in memory only: a restart forgets them (env BRIDGE_EPHEMERAL; "
        "default: durable in the database)",
    )
    serve.add_argument(
        "--node-id", help="this node's name in cluster mode (default host-pid-random, env BRIDGE_NODE_ID)"
    )
    serve.add_argument(
        "--advertise-url",
        help="URL other nodes forward calls to (default the bound address, env BRIDGE_ADVERTISE_URL)",
    )
    serve.add_argument(
        "--cors-origin",
        action="append",
        dest="cors_origins",
        metavar="ORIGIN",
        help="let browser pages of this origin (scheme://host[:port]) call the bridge; repeatable "
        "(env BRIDGE_CORS_ORIGINS, comma-separated)",
    )
    serve.add_argument("--log-level", default="info")
    serve.add_argument("--log-format", choices=LOG_FORMATS, default="json", help="every log line as JSON or text")
    ims = sub.add_parser("imserver", help="run only the compact OpenIM-compatible server")
    ims.add_argument("--host", default="127.0.0.1")
    ims.add_argument("--api-port", type=int, default=10002)
    ims.add_argument("--ws-port", type=int, default=10001)
    ims.add_argument("--data-dir", type=Path, default=Path("./data"))
    ims.add_argument("--database-url")
    ims.add_argument(
        "--secret",
        help="admin and token-signing secret (env BRIDGE_IMSERVER_SECRET; default: generated "
        "on first start and kept in DATA_DIR/secret)",
    )
    ims.add_argument(
        "--cors",
        action="store_true",
        help="answer every origin with Access-Control-Allow-Origin: * as OpenIM does (default off)",
    )
    ims.add_argument("--log-level", default="info")
    ims.add_argument("--log-format", choices=LOG_FORMATS, default="json", help="every log line as JSON or text")
    sub.add_parser("openapi", help="print the OpenAPI spec (JSON)")
    return p


@contextlib.asynccontextmanager
async def _embedded_imserver(settings: BridgeSettings) -> AsyncIterator[tuple[str, str, str]]:
    """API URL, gateway URL and the secret in use (configured, or the data dir's)."""
    from imserver.server import run_imserver  # composition root: the only bridge->imserver edge
    from imserver.settings import ImServerSettings

    ims = ImServerSettings(
        host="127.0.0.1", data_dir=settings.data_dir / "imserver", secret=settings.imserver_secret or ""
    )
    async with run_imserver(ims, api_port=settings.imserver_api_port, ws_port=settings.imserver_ws_port) as srv:
        yield srv.api_url, srv.ws_url, srv.settings.secret


async def _wait_for_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def _serve(args: argparse.Namespace) -> None:
    settings = BridgeSettings.from_env(
        host=args.host,
        port=args.port,
        imserver_api_port=args.imserver_api_port,
        imserver_ws_port=args.imserver_ws_port,
        imserver_secret=args.imserver_secret,
        data_dir=args.data_dir,
        upstream_api=args.upstream_api,
        upstream_ws=args.upstream_ws,
        oimws_port=args.oimws_port,
        database_url=args.database_url,
        redis_url=args.redis_url,
        ephemeral=args.ephemeral,
        node_id=args.node_id,
        advertise_url=args.advertise_url,
        cors_origins=tuple(args.cors_origins) if args.cors_origins else None,
    )
    if "BRIDGE_GC_POLICY" not in os.environ:
        settings.gc_policy = "freeze"  # this process is ours: freeze what lives long (bridge/gc_policy.py)
    embedded = settings.embedded
    secret = ""
    async with contextlib.AsyncExitStack() as stack:
        if embedded:
            ports = f"embedded imserver (--imserver-api-port {settings.imserver_api_port}, "
            ports += f"--imserver-ws-port {settings.imserver_ws_port})"
            with _port_role(ports):
                api, ws, secret = await stack.enter_async_context(_embedded_imserver(settings))
            settings.upstream_api, settings.upstream_ws = api, ws
        # Bound before the app exists: with --port 0 the advertised URL needs the real port.
        with _port_role(f"bridge (--port {settings.port})"):
            sock = bind(settings.host, settings.port)
        stack.callback(sock.close)
        settings.advertise_url = settings.advertise_url or advertised_url(sock)
        app = create_app(settings)
        limits = HttpLimits.of(settings)  # header size, header and body read timeouts
        running = await stack.enter_async_context(serve_app(app, log_level="warning", sock=sock, limits=limits))
        oimws_url = None
        if settings.oimws_port:
            # Entered after the bridge app, so it stops first and its sockets never outlive the pool.
            with _port_role(f"oimws WebSocket (--oimws-port {settings.oimws_port})"):
                oimws = await stack.enter_async_context(
                    serve_app(oimws_app(app), settings.host, settings.oimws_port, log_level="warning", limits=limits)
                )
            oimws_url = oimws.url.replace("http://", "ws://", 1)
        _banner(settings, running.url, secret if embedded else None, oimws_url)
        await _wait_for_signal()
        log.info("draining")
        await drain(app)
        log.info("shutting down")


def _banner(settings: BridgeSettings, url: str, imserver_secret: str | None, oimws_url: str | None = None) -> None:
    """Start-up lines; `imserver_secret` is the embedded imserver's (None: upstream OpenIM).

    The secret is printed on purpose: whoever started `./run` needs it to mint the first
    tokens, and it is on the terminal of the one who can read the data dir anyway.
    """
    lines = [f"openim-bridge listening on {url}  (OpenAPI docs: {url}/docs)"]
    ws_url = url.replace("http://", "ws://", 1)
    lines.append(f"oimws WebSocket (open-im-sdk wsAddr): {ws_url}/ws" + (f"  and {oimws_url}" if oimws_url else ""))
    if imserver_secret is not None:
        where = "configured" if settings.imserver_secret else f"kept in {settings.data_dir / 'imserver' / 'secret'}"
        body = json.dumps({"secret": imserver_secret, "userID": "imAdmin"}, separators=(",", ":"))
        lines += [
            f"embedded imserver: API {settings.upstream_api}  gateway {settings.upstream_ws}",
            f"admin secret ({where}): {imserver_secret}",
            "get a user token:",
            f"  curl -s -XPOST {settings.upstream_api}/auth/get_admin_token -H 'operationID: 1' -d '{body}'",
            f"  curl -s -XPOST {settings.upstream_api}/user/user_register -H 'operationID: 2' -H 'token: <admin>' "
            """-d '{"users":[{"userID":"alice","nickname":"Alice"}]}'""",
            f"  curl -s -XPOST {settings.upstream_api}/auth/get_user_token -H 'operationID: 3' -H 'token: <admin>' "
            """-d '{"userID":"alice","platformID":5}'""",
            f'then: curl -s -XPOST {url}/v1/login -d \'{{"userID":"alice","token":"<user token>","platformID":5}}\'',
        ]
    else:
        lines.append(f"upstream OpenIM: API {settings.upstream_api}  gateway {settings.upstream_ws}")
    for line in lines:  # one log record each: every line of the process in one format
        log.info(line)


async def _imserver(args: argparse.Namespace) -> None:
    from imserver.secret import SECRET_FILE
    from imserver.server import run_imserver
    from imserver.settings import ImServerSettings

    settings = ImServerSettings(
        host=args.host,
        data_dir=args.data_dir,
        database_url=args.database_url,
        secret=args.secret or os.environ.get("BRIDGE_IMSERVER_SECRET", ""),
        cors_any_origin=args.cors,
    )
    # Where the secret is, not the secret: a standalone imserver's output usually ends in logs.
    where = "as configured" if settings.secret else f"kept in {args.data_dir / SECRET_FILE}"
    async with contextlib.AsyncExitStack() as stack:
        with _port_role(f"imserver (--api-port {args.api_port}, --ws-port {args.ws_port})"):
            srv = await stack.enter_async_context(run_imserver(settings, api_port=args.api_port, ws_port=args.ws_port))
        log.info(f"imserver: API {srv.api_url}  gateway {srv.ws_url}")
        log.info(f"imserver: admin secret {where}")
        await _wait_for_signal()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "openapi":
        sys.stdout.write(openapi_document())
        return 0
    configure_logging(args.log_level, args.log_format)
    try:
        body = _serve(args) if args.command == "serve" else _imserver(args)
        run_loop(body, os.environ.get("BRIDGE_EVENT_LOOP", "auto"))
    except ValueError as exc:
        log.error(f"openim-bridge: {exc}")
        return 2
    except OSError as exc:
        log.error(f"openim-bridge: cannot start: {exc.strerror if exc.errno == errno.EADDRINUSE else exc}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
