"""Webhook signatures: `X-Bridge-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`.

The MAC covers `"<t>.<raw body>"` (the scheme Stripe and Slack use), so a
receiver that checks `t` against its clock can refuse a replayed delivery,
and one that checks the MAC knows the body came from whoever holds the
secret. `verify` is the receiver's side (README "Webhooks" shows it).
"""

from __future__ import annotations

import hashlib
import hmac
import time

__all__ = ["SIGNATURE_HEADER", "sign", "verify"]

SIGNATURE_HEADER = "X-Bridge-Signature"


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The header value for `body` signed now (or at `timestamp`)."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={_mac(secret, t, body)}"


def verify(secret: str, body: bytes, header: str, *, tolerance: float = 300.0, now: float | None = None) -> bool:
    """True when `header` signs `body` with `secret` and its time is within `tolerance` seconds."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    t, mac = parts.get("t", ""), parts.get("v1", "")
    if not t.isdigit() or not mac:
        return False
    if abs((time.time() if now is None else now) - int(t)) > tolerance:
        return False
    return hmac.compare_digest(mac, _mac(secret, int(t), body))
