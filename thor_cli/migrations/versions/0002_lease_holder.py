"""step runs record who holds their lease: host, pid and the process groups of its children

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("thor_step_run") as batch:
        batch.add_column(sa.Column("lease_holder", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("thor_step_run") as batch:
        batch.drop_column("lease_holder")
