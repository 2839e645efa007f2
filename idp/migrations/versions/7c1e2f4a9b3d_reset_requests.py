"""reset requests: «Забыли пароль?» written for any login, issued by the dispatcher

Revision ID: 7c1e2f4a9b3d
Revises: 1595c9ea4e6b
Create Date: 2026-12-02 04:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '7c1e2f4a9b3d'
down_revision = '1595c9ea4e6b'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('reset_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )


def downgrade() -> None:
    op.drop_table('reset_requests')
