"""``idp db …``: the schema's migrations (Alembic)."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from idp import schema
from idp.cli.output import emit, json_option

db_group = AppGroup("db", help="Database schema migrations.")


@db_group.command("upgrade")
@click.argument("revision", default="head")
def upgrade(revision):
    """Migrate the database up to REVISION (default: the newest)."""
    schema.upgrade(revision)
    click.echo(f"Database at revision {schema.current_revision()}")


@db_group.command("downgrade")
@click.argument("revision")
def downgrade(revision):
    """Migrate the database down to REVISION ("base" empties it)."""
    schema.downgrade(revision)
    click.echo(f"Database at revision {schema.current_revision()}")


@db_group.command("current")
@json_option
def current(as_json):
    """Show the database's revision."""
    emit({"revision": schema.current_revision()}, as_json)


@db_group.command("check")
def check():
    """Exit 1 if the models and the database schema differ (a migration is missing or not applied)."""
    found = schema.differences()
    for difference in found:
        click.echo(repr(difference))
    if found:
        raise SystemExit(1)
    click.echo("The database schema matches the models.")


@db_group.command("revision")
@click.option("-m", "--message", required=True)
def revision(message):
    """Write a new migration from the models (for developers, against an up-to-date database)."""
    schema.revision(message)
