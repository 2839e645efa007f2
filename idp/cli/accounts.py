"""``idp accounts …``: create, show, list accounts and grant the admin role."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from idp.accounts import Account, create_account, describe, get_by_login
from idp.cli.output import domain_errors, emit, json_option
from idp.extensions import db

accounts = AppGroup("accounts", help="Customer accounts.")


def _now():
    return current_app.extensions["idp"].clock.now()


@accounts.command("create")
@click.option("--email", help="The customer's own e-mail (a login, and the e-mail channel).")
@click.option("--phone", help="The customer's own mobile phone, any usual writing (a login, and the SMS channel).")
@click.option("--name", "full_name", help="Full name.")
@json_option
@domain_errors
def create(email, phone, full_name, as_json):
    """Create an account with an e-mail, a mobile phone or both."""
    account = create_account(email=email, phone=phone, full_name=full_name, now=_now())
    db.session.commit()
    emit(describe(account), as_json)


@accounts.command("show")
@click.argument("login")
@json_option
@domain_errors
def show(login, as_json):
    """Show the account of LOGIN (an e-mail or a phone in any usual writing)."""
    emit(describe(get_by_login(login)), as_json)


@accounts.command("list")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10000))
@json_option
def list_(limit, as_json):
    """List accounts, newest first."""
    rows = db.session.execute(select(Account).order_by(Account.id.desc()).limit(limit)).scalars()
    emit([describe(a) for a in rows], as_json)


@accounts.command("grant-admin")
@click.argument("login")
@json_option
@domain_errors
def grant_admin(login, as_json):
    """Give the account of LOGIN the admin role (the admin web area)."""
    account = get_by_login(login)
    account.is_admin = True
    db.session.commit()
    emit(describe(account), as_json)
