"""clients: JWT access tokens and audiences, back-channel logout, web origins for CORS

* ``access_token_format``: ``opaque`` (every client so far) or ``jwt`` (RFC 9068);
* ``audiences``: the resource URIs (RFC 8707) the client may ask access tokens for; the first is its default;
* ``backchannel_logout_uri`` and ``backchannel_logout_session_required`` (OpenID Connect Back-Channel
  Logout 1.0 §2.2);
* ``web_origins``: the origins a browser application calls the provider from (CORS); NULL means derived from
  the redirect URIs for a public client, none for a confidential one.

Revision ID: e2f7a9c3d1b6
Revises: c5e1a8d4b9f2
Create Date: 2026-12-07 15:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'e2f7a9c3d1b6'
down_revision = 'c5e1a8d4b9f2'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('oauth_clients') as batch_op:
        batch_op.add_column(sa.Column('access_token_format', sa.String(length=10), nullable=False,
                                      server_default='opaque'))
        batch_op.add_column(sa.Column('audiences', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('backchannel_logout_uri', sa.String(length=2000), nullable=True))
        batch_op.add_column(sa.Column('backchannel_logout_session_required', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('web_origins', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('oauth_clients') as batch_op:
        batch_op.drop_column('web_origins')
        batch_op.drop_column('backchannel_logout_session_required')
        batch_op.drop_column('backchannel_logout_uri')
        batch_op.drop_column('audiences')
        batch_op.drop_column('access_token_format')
