"""``idp init`` (schema and first keys) and ``idp demo`` (a demo account to click through)."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from idp.accounts import create_account, describe, find_by_login, parse_login
from idp.cli.output import emit, json_option
from idp.extensions import db
from idp.schema import upgrade


@click.command("init")
@json_option
@with_appcontext
def init_command(as_json):
    """Migrate the database schema and create the first signing key (safe to run again)."""
    from idp.keys import ensure_first_key
    from idp.schema import current_revision

    upgrade()
    services = current_app.extensions["idp"]
    created = ensure_first_key(services.settings.keys_dir, now=services.clock.now())
    database = _safe_url(current_app.config["SQLALCHEMY_DATABASE_URI"])
    keys_dir = services.settings.keys_dir
    emit({"database": database, "revision": current_revision(), "keys_dir": keys_dir,
          "key_created": created.kid if created else None}, as_json,
         f"Database ready: {database}\n"
         f"Signing key {'created' if created else 'present'} in {keys_dir}" + (f": {created.kid}" if created else ""))


@click.command("demo")
@click.option("--email", default="demo@example.com", show_default=True)
@click.option("--phone", default="+7 916 123-45-67", show_default=True)
@json_option
@with_appcontext
def demo_command(email, phone, as_json):
    """Migrate the schema and create a demo account (kept if it exists)."""
    upgrade()
    account = find_by_login(parse_login(email))
    if account is None:
        account = create_account(email=email, phone=phone, full_name="Демо Клиент",
                                 now=current_app.extensions["idp"].clock.now())
        db.session.commit()
    emit(describe(account), as_json)


def _safe_url(url: str) -> str:
    """The database URL without its password, for printing."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
