"""Session directory, event logs, delivery marks and call outcomes of a node without Redis (issue 12).

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bridge_event_logs",
        sa.Column("session_id", sa.String(64), primary_key=True),
        sa.Column("last_id", sa.BigInteger, nullable=False),
        sa.Column("end_offset", sa.BigInteger, nullable=False),
        sa.Column("last_t", sa.Float, nullable=False),
    )
    op.create_table(
        "bridge_events",
        sa.Column("session_id", sa.String(64), primary_key=True),
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("event", sa.Text, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("t", sa.Float, nullable=False),
        sa.Column("o", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_bridge_events_t", "bridge_events", ["t"])
    op.create_table(
        "bridge_event_marks",
        sa.Column("session_id", sa.String(64), primary_key=True),
        sa.Column("conversation_id", sa.String(256), primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "bridge_sessions",
        sa.Column("session_id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("platform_id", sa.Integer, nullable=False),
        sa.Column("record", sa.Text, nullable=False),
        sa.Column("ended_code", sa.Integer),
        sa.Column("ended_at", sa.Float),
    )
    op.create_index("ix_bridge_sessions_ended_at", "bridge_sessions", ["ended_at"])
    op.create_table(
        "bridge_session_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("n", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_bridge_session_tokens_session", "bridge_session_tokens", ["session_id", "n"])
    op.create_table(
        "bridge_session_live",
        sa.Column("platform_id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.String(128), primary_key=True),
        sa.Column("session_id", sa.String(64), nullable=False),
    )
    op.create_table(
        "bridge_outcomes",
        sa.Column("session_id", sa.String(64), primary_key=True),
        sa.Column("operation_id", sa.String(128), primary_key=True),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_index("ix_bridge_outcomes_expires_at", "bridge_outcomes", ["expires_at"])


def downgrade() -> None:
    for table in (
        "bridge_outcomes",
        "bridge_session_live",
        "bridge_session_tokens",
        "bridge_sessions",
        "bridge_event_marks",
        "bridge_events",
        "bridge_event_logs",
    ):
        op.drop_table(table)
