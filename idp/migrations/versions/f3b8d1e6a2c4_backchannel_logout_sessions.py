"""back-channel logout: a public id for each provider session, and which clients got tokens in it

* ``browser_sessions.sid``: the session's public id (the ``sid`` claim of ID and logout tokens, OpenID
  Connect Back-Channel Logout 1.0 §2.4), random and unique; existing sessions get one here;
* ``oauth_codes.sid`` and ``oauth_tokens.sid``: the session a code was issued in, and the tokens made from
  it (a refreshed ID token carries the same ``sid``; a reused refresh token ends that session);
* ``browser_session_clients``: every client a code was issued to in a session — who gets a logout token
  when the session ends.

Revision ID: f3b8d1e6a2c4
Revises: e2f7a9c3d1b6
Create Date: 2026-12-07 15:40:00
"""
import secrets

from alembic import op
import sqlalchemy as sa


revision = 'f3b8d1e6a2c4'
down_revision = 'e2f7a9c3d1b6'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('browser_sessions') as batch_op:
        batch_op.add_column(sa.Column('sid', sa.String(length=64), nullable=True))
    sessions = sa.table('browser_sessions', sa.column('id', sa.Integer), sa.column('sid', sa.String))
    connection = op.get_bind()
    for (row_id,) in connection.execute(sa.select(sessions.c.id).where(sessions.c.sid.is_(None))).all():
        connection.execute(sessions.update().where(sessions.c.id == row_id)
                           .values(sid=secrets.token_urlsafe(24)))
    with op.batch_alter_table('browser_sessions') as batch_op:
        batch_op.create_index('ix_browser_sessions_sid', ['sid'], unique=True)
    with op.batch_alter_table('oauth_codes') as batch_op:
        batch_op.add_column(sa.Column('sid', sa.String(length=64), nullable=True))
    with op.batch_alter_table('oauth_tokens') as batch_op:
        batch_op.add_column(sa.Column('sid', sa.String(length=64), nullable=True))
    op.create_table(
        'browser_session_clients',
        sa.Column('browser_session_id', sa.Integer(), nullable=False),
        sa.Column('client_pk', sa.Integer(), nullable=False),
        sa.Column('first_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['browser_session_id'], ['browser_sessions.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['client_pk'], ['oauth_clients.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('browser_session_id', 'client_pk'),
    )
    with op.batch_alter_table('browser_session_clients') as batch_op:
        batch_op.create_index('ix_browser_session_clients_client_pk', ['client_pk'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('browser_session_clients') as batch_op:
        batch_op.drop_index('ix_browser_session_clients_client_pk')
    op.drop_table('browser_session_clients')
    with op.batch_alter_table('oauth_tokens') as batch_op:
        batch_op.drop_column('sid')
    with op.batch_alter_table('oauth_codes') as batch_op:
        batch_op.drop_column('sid')
    with op.batch_alter_table('browser_sessions') as batch_op:
        batch_op.drop_index('ix_browser_sessions_sid')
        batch_op.drop_column('sid')
