"""An echo bot on webhooks: no stream held open, just an HTTP endpoint (standard library only).

It logs in as a bot user, registers its webhook for the session, accepts every
friend request and answers every text with "echo: <text>". It verifies each
delivery's signature, refuses stale ones (replays) and skips deliveries it has
already handled (delivery is at least once):

    BRIDGE=http://127.0.0.1:10008 BOT_USER=echobot BOT_TOKEN=<OpenIM token, platform 5> \\
    WEBHOOK_SECRET=$(openssl rand -hex 16) PUBLIC_URL=http://this-host:8099/hook python3 examples/webhook_bot.py

PUBLIC_URL must be reachable from the bridge; loopback and private addresses need
BRIDGE_WEBHOOK_ALLOW_PRIVATE=1 on the bridge.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
import time
import urllib.request
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

BRIDGE = os.environ.get("BRIDGE", "http://127.0.0.1:10008")
SECRET = os.environ["WEBHOOK_SECRET"]
PUBLIC_URL = os.environ["PUBLIC_URL"]
TOLERANCE = 300  # seconds: an older signature is a replay


def verify(body: bytes, header: str) -> bool:
    """X-Bridge-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    t, mac = parts.get("t", ""), parts.get("v1", "")
    if not t.isdigit() or abs(time.time() - int(t)) > TOLERANCE:
        return False
    expected = hmac.new(SECRET.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(mac, expected)


def bridge(path: str, body: Any, session: str | None = None, method: str = "POST") -> Any:
    headers = {"Content-Type": "application/json"}
    if session:
        headers["Authorization"] = f"Bearer {session}"
    req = urllib.request.Request(BRIDGE + path, json.dumps(body).encode(), headers, method=method)
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())["data"]


class Bot:
    def __init__(self, session: str, user_id: str) -> None:
        self.session = session
        self.user_id = user_id
        self.seen: OrderedDict[str, None] = OrderedDict()  # recent delivery ids, for dedupe

    def handle(self, delivery: str, event: dict[str, Any]) -> None:
        if delivery in self.seen:
            return
        self.seen[delivery] = None
        while len(self.seen) > 10_000:
            self.seen.popitem(last=False)
        data = event["data"]
        if event["event"] == "OnFriendApplicationAdded" and data.get("toUserID") == self.user_id:
            bridge("/v1/friend/accept_friend_application", {"toUserID": data["fromUserID"]}, self.session)
        elif event["event"] == "OnRecvNewMessage" and data.get("textElem") and data["sendID"] != self.user_id:
            text = data["textElem"]["content"]
            msg = bridge("/v1/message/create_text_message", {"text": f"echo: {text}"}, self.session)
            bridge("/v1/message/send_message", {"message": msg, "recvID": data["sendID"]}, self.session)
            print(f"echoed {text!r} to {data['sendID']}", flush=True)


def main() -> None:
    user, token = os.environ["BOT_USER"], os.environ["BOT_TOKEN"]
    login = bridge("/v1/login", {"userID": user, "token": token, "platformID": int(os.environ.get("PLATFORM", "5"))})
    bot = Bot(login["sessionToken"], user)

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if not verify(body, self.headers.get("X-Bridge-Signature", "")):
                self.send_response(401)
                self.end_headers()
                return
            try:
                bot.handle(self.headers["X-Bridge-Delivery"], json.loads(body))
                self.send_response(204)  # acknowledged: the bridge moves on
            except Exception as exc:  # answer 500: the bridge retries this delivery
                print(f"failed: {exc}", file=sys.stderr, flush=True)
                self.send_response(500)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    parts = urlsplit(PUBLIC_URL)
    server = ThreadingHTTPServer((os.environ.get("LISTEN", "127.0.0.1"), parts.port or 80), Hook)
    bridge("/v1/session/webhook", {"url": PUBLIC_URL, "secret": SECRET}, bot.session, method="PUT")
    print(f"bot {user} listening on {PUBLIC_URL}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
