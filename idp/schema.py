"""The database schema: Alembic migrations for real databases, ``create_all`` for throwaway ones.

``idp init`` and ``idp db upgrade`` run the migrations in ``idp/migrations`` (PostgreSQL in
production, SQLite embedded). Tests build their fresh databases with :func:`create_schema`, and a test
proves the migrations and the models describe the same schema.
"""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext

from idp.extensions import db

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _config(connection=None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def upgrade(revision: str = "head") -> None:
    """Bring the database to ``revision`` (in one transaction where the database allows it)."""
    with db.engine.begin() as connection:
        command.upgrade(_config(connection), revision)


def downgrade(revision: str) -> None:
    with db.engine.begin() as connection:
        command.downgrade(_config(connection), revision)


def current_revision() -> str | None:
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def differences() -> list:
    """What the models have that the database lacks, or the other way round (empty: in step)."""
    from idp.models import metadata

    with db.engine.connect() as connection:
        return compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), metadata)


def revision(message: str) -> None:
    """Write a new migration from the difference between the models and the database (developers)."""
    with db.engine.begin() as connection:
        command.revision(_config(connection), message=message, autogenerate=True)


def create_schema() -> None:
    """Every table at once, without migrations: for tests and throwaway databases only."""
    from idp.models import metadata

    metadata.create_all(db.engine)
