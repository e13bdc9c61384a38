"""core_checkpoints.fence: the owner fence of the node that wrote the row.

Fences grow globally (issued by Redis INCR in cluster mode, hence 64-bit), so a
stale owner that wakes after a takeover carries a smaller fence and its save is
refused.

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-01
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
    op.add_column("core_checkpoints", sa.Column("fence", sa.BigInteger, nullable=True))


def downgrade() -> None:
    # SQLite drops a column only by copying the table.
    with op.batch_alter_table("core_checkpoints") as batch:
        batch.drop_column("fence")
