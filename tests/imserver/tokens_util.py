"""Craft OpenIM-style tokens in tests (PyJWT, with OpenIM's short default secret)."""

from __future__ import annotations

import warnings
from typing import Any

import jwt

__all__ = ["claims_of", "craft"]


def craft(secret: str, **claims: Any) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jwt.InsecureKeyLengthWarning)
        return jwt.encode(claims, secret, algorithm="HS256")


def claims_of(token: str) -> dict[str, Any]:
    payload: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return payload
