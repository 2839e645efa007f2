"""resource indicators: the RFC 8707 resource a code was requested for, and a token was issued for

* ``oauth_codes.resource``: the ``resource`` of the authorization request (one of the client's audiences),
  which the code exchange must keep;
* ``oauth_tokens.resource``: the resource the token was issued for, which its refresh token family keeps.

Revision ID: a8c4e2f9d7b1
Revises: f3b8d1e6a2c4
Create Date: 2026-12-07 16:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'a8c4e2f9d7b1'
down_revision = 'f3b8d1e6a2c4'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('oauth_codes') as batch_op:
        batch_op.add_column(sa.Column('resource', sa.String(length=2000), nullable=True))
    with op.batch_alter_table('oauth_tokens') as batch_op:
        batch_op.add_column(sa.Column('resource', sa.String(length=2000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('oauth_tokens') as batch_op:
        batch_op.drop_column('resource')
    with op.batch_alter_table('oauth_codes') as batch_op:
        batch_op.drop_column('resource')
