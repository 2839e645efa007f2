"""partial indexes: a machine's token and events without a customer or client add no entry to them

Revision ID: 3d8e5b2c6f1a
Revises: 7c1e2f4a9b3d
Create Date: 2026-12-06 18:40:00

The five indexes are dropped and built again in the upgrade's transaction: on PostgreSQL each build holds
off writes to its table while it runs (seconds for a table of millions of rows), so upgrade a large
database when few tokens are being issued.
"""
from alembic import op
import sqlalchemy as sa


revision = '3d8e5b2c6f1a'
down_revision = '7c1e2f4a9b3d'
branch_labels = None
depends_on = None

#: (table, index, columns, the column whose NULL rows the index leaves out)
INDEXES = (
    ('oauth_tokens', 'ix_oauth_tokens_account_client', ['account_id', 'client_pk'], 'account_id'),
    ('oauth_tokens', 'ix_oauth_tokens_family_id', ['family_id'], 'family_id'),
    ('oauth_tokens', 'ix_oauth_tokens_code_id', ['code_id'], 'code_id'),
    ('audit_events', 'ix_audit_events_account_id', ['account_id'], 'account_id'),
    ('audit_events', 'ix_audit_events_client_id', ['client_id'], 'client_id'),
)


def upgrade() -> None:
    for table, name, columns, column in INDEXES:
        op.drop_index(name, table_name=table)
        condition = sa.text(f'{column} IS NOT NULL')
        op.create_index(name, table, columns, unique=False,
                        sqlite_where=condition, postgresql_where=condition)


def downgrade() -> None:
    for table, name, columns, _column in INDEXES:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, columns, unique=False)
