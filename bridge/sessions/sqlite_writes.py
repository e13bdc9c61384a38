"""A login's session-directory statements on SQLite, each in one aiosqlite hop (issue 14).

The same statements as bridge/sessions/sql.py builds with SQLAlchemy Core (the
other dialects still take that path), written once as qmark SQL and run on the
sqlite3 connection in aiosqlite's own thread, inside the group commit's
transaction (bridge/sqlstore/driver.py ``run_sync``). py-spy of 300 logins had
the seven statements of a new session as 14% of the bridge's CPU per login:
each one compiled (cache key), and three thread hops per statement.
"""

from __future__ import annotations

import sqlite3

from bridge.sqlstore import schema

__all__ = ["FIND_LIVE", "create_session", "keep_token"]

_s, _tok, _live = schema.sessions.name, schema.session_tokens.name, schema.session_live.name

#: The record of the live, not ended session of (platform, user): SqlSessionDirectory.find's query.
FIND_LIVE = (
    f"SELECT {_s}.record FROM {_s} JOIN {_live} ON {_live}.session_id = {_s}.session_id "
    f"WHERE {_live}.platform_id = ? AND {_live}.user_id = ? AND {_s}.ended_code IS NULL"
)
_DELETE_SESSION = f"DELETE FROM {_s} WHERE session_id = ?"
_INSERT_SESSION = (
    f"INSERT INTO {_s} (session_id, user_id, platform_id, record, ended_code, ended_at) VALUES (?, ?, ?, ?, ?, ?)"
)
_DELETE_LIVE = f"DELETE FROM {_live} WHERE platform_id = ? AND user_id = ?"
_INSERT_LIVE = f"INSERT INTO {_live} (platform_id, user_id, session_id) VALUES (?, ?, ?)"
_FIND_TOKEN = f"SELECT session_id FROM {_tok} WHERE token_hash = ?"
_INSERT_TOKEN = f"INSERT INTO {_tok} (token_hash, session_id, n) VALUES (?, ?, ?)"
_MOVE_TOKEN = f"UPDATE {_tok} SET session_id = ?, n = ? WHERE token_hash = ?"
# Past max_tokens the oldest are revoked: n below the max_tokens-th newest (none: NULL, nothing goes).
_REVOKE_OLDEST = (
    f"DELETE FROM {_tok} WHERE session_id = ? AND n < "
    f"(SELECT n FROM {_tok} WHERE session_id = ? ORDER BY n DESC LIMIT 1 OFFSET ?)"
)


def keep_token(db: sqlite3.Connection, session_id: str, token_hash: str, n: int, max_tokens: int) -> None:
    row = db.execute(_FIND_TOKEN, (token_hash,)).fetchone()
    if row is None:
        db.execute(_INSERT_TOKEN, (token_hash, session_id, n))
    elif row[0] != session_id:  # a hash is one token: it moves to its new session
        db.execute(_MOVE_TOKEN, (session_id, n, token_hash))
    db.execute(_REVOKE_OLDEST, (session_id, session_id, max_tokens - 1))


def create_session(
    db: sqlite3.Connection,
    row: tuple[str, str, int, str, int | None],  # session_id, user_id, platform_id, record JSON, ended_code
    token_hash: str,
    n: int,
    max_tokens: int,
) -> None:
    session_id, user_id, platform_id = row[0], row[1], row[2]
    db.execute(_DELETE_SESSION, (session_id,))
    db.execute(_INSERT_SESSION, (*row, None))
    db.execute(_DELETE_LIVE, (platform_id, user_id))
    db.execute(_INSERT_LIVE, (platform_id, user_id, session_id))
    keep_token(db, session_id, token_hash, n, max_tokens)
