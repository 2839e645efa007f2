"""``idp db …``: the schema's migrations (Alembic)."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from idp import schema
from idp.cli.output import emit, json_option

db_group = AppGroup("db", help="Database schema migrations.")


def _at_revision(as_json: bool) -> None:
    revision = schema.current_revision()
    emit({"revision": revision}, as_json, f"Database at revision {revision}")


@db_group.command("upgrade")
@click.argument("revision", default="head")
@json_option
def upgrade(revision, as_json):
    """Migrate the database up to REVISION (default: the newest)."""
    schema.upgrade(revision)
    _at_revision(as_json)


@db_group.command("downgrade")
@click.argument("revision")
@json_option
def downgrade(revision, as_json):
    """Migrate the database down to REVISION ("base" empties it)."""
    schema.downgrade(revision)
    _at_revision(as_json)


@db_group.command("current")
@json_option
def current(as_json):
    """Show the database's revision."""
    emit({"revision": schema.current_revision()}, as_json)


@db_group.command("check")
@json_option
def check(as_json):
    """Exit 1 if the models and the database schema differ (a migration is missing or not applied)."""
    found = [repr(difference) for difference in schema.differences()]
    emit({"matches": not found, "differences": found}, as_json,
         "\n".join(found) if found else "The database schema matches the models.")
    if found:
        raise SystemExit(1)


@db_group.command("revision")
@click.option("-m", "--message", required=True)
def revision(message):
    """Write a new migration from the models (for developers, against an up-to-date database)."""
    schema.revision(message)
