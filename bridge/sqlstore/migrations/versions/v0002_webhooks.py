"""Webhook targets and delivery cursors of a node without Redis: a restart resumes delivery (issue 16).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bridge_webhook_targets",
        sa.Column("session_id", sa.String(64), primary_key=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("secret", sa.Text, nullable=False),
    )
    op.create_table(
        "bridge_webhook_cursors",
        sa.Column("session_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("cursor", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("bridge_webhook_cursors")
    op.drop_table("bridge_webhook_targets")
