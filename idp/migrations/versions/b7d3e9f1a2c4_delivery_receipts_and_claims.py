"""messages the customer can count on: delivery receipts, undeliverable recipients, reset-request claims

Revision ID: b7d3e9f1a2c4
Revises: 9a4c7d2e8f10
Create Date: 2026-12-07 06:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'b7d3e9f1a2c4'
down_revision = '9a4c7d2e8f10'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('deliveries') as batch_op:
        batch_op.add_column(sa.Column('outcome_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('outcome_detail', sa.String(length=200), nullable=True))
    with op.batch_alter_table('reset_requests') as batch_op:
        batch_op.add_column(sa.Column('claimed_until', sa.DateTime(), nullable=True))
    op.create_table('undeliverable_recipients',
    sa.Column('recipient', sa.String(length=254), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('marked_at', sa.DateTime(), nullable=False),
    sa.Column('delivery_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['delivery_id'], ['deliveries.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('recipient')
    )


def downgrade() -> None:
    op.drop_table('undeliverable_recipients')
    with op.batch_alter_table('reset_requests') as batch_op:
        batch_op.drop_column('claimed_until')
    with op.batch_alter_table('deliveries') as batch_op:
        batch_op.drop_column('outcome_detail')
        batch_op.drop_column('outcome_at')
