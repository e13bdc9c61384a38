"""CORS for the origins the operator lists (BRIDGE_CORS_ORIGINS, --cors-origin).

Browser pages on another origin call the REST API with `Authorization:
Bearer`, so they need the preflight answered; `EventSource` cannot send that
header and uses `?access_token=`, a simple GET that only needs
`Access-Control-Allow-Origin`. No cookies are used, so credentials stay off
(and `*` is harmless when an operator wants any origin). Origins not listed
get no CORS headers: the browser then refuses the page the answer.
"""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

__all__ = ["ALLOWED_HEADERS", "EXPOSED_HEADERS", "check_origin", "install_cors"]

#: Request headers a page may send (the preflight's Access-Control-Allow-Headers).
ALLOWED_HEADERS = ("Authorization", "Content-Type", "operationID", "Prefer", "Last-Event-ID")
#: Response headers a page may read besides the CORS-safelisted ones.
EXPOSED_HEADERS = ("operationID", "Retry-After", "Preference-Applied")
# Preflight answers are cached by the browser this long (Chromium caps at 2 h).
_MAX_AGE = 600


def check_origin(origin: str) -> str:
    """`origin` as the browser sends it (scheme://host[:port], no path), or ValueError naming it."""
    if origin == "*":
        return origin
    scheme, sep, rest = origin.partition("://")
    if not sep or scheme not in ("http", "https") or not rest or "/" in rest or rest != rest.strip():
        raise ValueError(
            f"CORS origin must be scheme://host[:port] without a path or trailing slash (or *), got {origin!r}"
        )
    return origin


def install_cors(app: FastAPI, origins: Iterable[str]) -> None:
    """Add Starlette's CORS middleware for `origins`; nothing when there are none.

    Call it last, so it is the outermost middleware: a preflight is answered
    before the operationID or body checks run, and every answer, problem+json
    from those checks included, carries the CORS headers.
    """
    allowed = [check_origin(o) for o in origins]
    if not allowed:
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=allowed,
        allow_methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"],
        allow_headers=list(ALLOWED_HEADERS),
        expose_headers=list(EXPOSED_HEADERS),
        allow_credentials=False,
        max_age=_MAX_AGE,
    )
