"""the contact centre: the support role, and operator actions done once however often they are submitted

Revision ID: c5e1a8d4b9f2
Revises: b7d3e9f1a2c4
Create Date: 2026-12-07 07:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'c5e1a8d4b9f2'
down_revision = 'b7d3e9f1a2c4'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('accounts') as batch_op:
        batch_op.add_column(sa.Column('is_support', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table('operator_actions',
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token')
    )
    with op.batch_alter_table('operator_actions') as batch_op:
        batch_op.create_index(batch_op.f('ix_operator_actions_account_id'), ['account_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('operator_actions') as batch_op:
        batch_op.drop_index(batch_op.f('ix_operator_actions_account_id'))
    op.drop_table('operator_actions')
    with op.batch_alter_table('accounts') as batch_op:
        batch_op.drop_column('is_support')
