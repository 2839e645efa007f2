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
        batch_op.create_index('ix_deliveries_provider_message_id', ['provider_message_id'], unique=False)
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
    op.create_table('sns_subscription_confirmations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('topic_arn', sa.String(length=256), nullable=False),
    sa.Column('token', sa.Text(), nullable=False),
    sa.Column('message_id', sa.String(length=100), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_sns_subscription_confirmations_topic_arn', 'sns_subscription_confirmations',
                    ['topic_arn'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_sns_subscription_confirmations_topic_arn', table_name='sns_subscription_confirmations')
    op.drop_table('sns_subscription_confirmations')
    op.drop_table('undeliverable_recipients')
    with op.batch_alter_table('reset_requests') as batch_op:
        batch_op.drop_column('claimed_until')
    with op.batch_alter_table('deliveries') as batch_op:
        batch_op.drop_index('ix_deliveries_provider_message_id')
        batch_op.drop_column('outcome_detail')
        batch_op.drop_column('outcome_at')
