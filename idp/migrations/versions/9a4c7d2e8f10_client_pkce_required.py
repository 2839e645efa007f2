"""clients: PKCE required by default, also of confidential clients (RFC 9700 §2.1.1)

Every client registered before this revision requires PKCE from now on, like a new one: a confidential
relying party that cannot send a ``code_challenge`` yet must be opted out by an admin
(``idp clients update CLIENT_ID --pkce-optional``), which the audit records.

Revision ID: 9a4c7d2e8f10
Revises: 3d8e5b2c6f1a
Create Date: 2026-12-07 06:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '9a4c7d2e8f10'
down_revision = '3d8e5b2c6f1a'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('oauth_clients') as batch_op:
        batch_op.add_column(sa.Column('pkce_required', sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table('oauth_clients') as batch_op:
        batch_op.drop_column('pkce_required')
