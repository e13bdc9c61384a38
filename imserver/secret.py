"""The server secret (OpenIM share.secret) when none is configured: random, kept in the data dir.

The secret both admits `/auth/get_admin_token` and signs every token (HS256), so
OpenIM's published default (`openIM123`) would let anyone mint tokens offline
(issue 10). On first start a random one is written to `<data_dir>/secret`, mode
0600, complete or not at all (written to a temporary file, then linked into place:
two processes starting at once end up with the same secret); later starts with the
same data dir read it back.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import stat
from pathlib import Path
from typing import Final

__all__ = ["SECRET_FILE", "load_or_create_secret"]

log = logging.getLogger(__name__)

SECRET_FILE: Final = "secret"
# 32 random bytes, URL-safe base64 (43 characters): no quoting needed in JSON or a shell.
_SECRET_BYTES: Final = 32


def _read(path: Path) -> str:
    secret = path.read_text(encoding="utf-8").strip()
    if not secret:
        raise ValueError(f"{path} is empty: delete it to generate a new secret, or set one explicitly")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("%s is readable by other users (mode %o); it should be 0600", path, mode)
    return secret


def _create(path: Path) -> None:
    """Write a new secret to `path` unless another process got there first."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(secrets.token_urlsafe(_SECRET_BYTES) + "\n")
            f.flush()
            os.fsync(f.fileno())
        with contextlib.suppress(FileExistsError):  # a concurrent start won: use its secret
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load_or_create_secret(data_dir: Path) -> str:
    """The secret kept in `data_dir` (created with the directory if absent)."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = data_dir / SECRET_FILE
    if not path.exists():
        _create(path)
        log.info("generated a new imserver secret in %s", path)
    return _read(path)
