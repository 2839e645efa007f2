"""device cookies: ``accounts.device_epoch``, moved on whenever all the account's sessions end, so the device
cookies made before (the priority lane of sign-in under a flood) are no longer honoured

Revision ID: b7d3f1a9c2e5
Revises: a8c4e2f9d7b1
Create Date: 2026-12-07 18:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'b7d3f1a9c2e5'
down_revision = 'a8c4e2f9d7b1'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('accounts') as batch_op:
        batch_op.add_column(sa.Column('device_epoch', sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('accounts') as batch_op:
        batch_op.drop_column('device_epoch')
