"""core_local_messages: messages kept only locally, and local extensions (issue 15).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "core_local_messages",
        sa.Column("user_id", sa.String(128), primary_key=True),
        sa.Column("conversation_id", sa.String(256), primary_key=True),
        sa.Column("client_msg_id", sa.String(128), primary_key=True),
        sa.Column("send_time", sa.BigInteger, nullable=False),
        sa.Column("data", sa.Text, nullable=True),
        sa.Column("local_ex", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("core_local_messages")
