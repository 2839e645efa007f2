"""Alembic environment: runs against the connection handed over by :mod:`idp.db_migrations`."""
from __future__ import annotations

from alembic import context

from idp.models import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only through `idp db …`, which always hands a connection
    raise RuntimeError("run migrations with `idp db upgrade`, which supplies the database connection")

context.configure(connection=connection, target_metadata=metadata, compare_type=True,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
