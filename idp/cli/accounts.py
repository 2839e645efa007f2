"""``idp accounts …``: create, show, list and correct accounts, and grant the admin role."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from idp.accounts import Account, create_account, describe, get_by_login
from idp.admin.casework import correct_account, describe_account
from idp.admin.operations import Actor
from idp.audit import record
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


@accounts.command("update")
@click.argument("login")
@click.option("--email", help="The customer's own e-mail (replaces the account's; unverified until used to sign in).")
@click.option("--phone", help="The customer's own mobile phone, any usual writing (replaces the account's).")
@click.option("--name", "full_name", help="Full name.")
@click.option("--birth-date", help="Birth date, YYYY-MM-DD: whose account this is, as policies are compared.")
@json_option
@domain_errors
def update(login, email, phone, full_name, birth_date, as_json):
    """Correct the account of LOGIN: its e-mail, mobile phone, name or birth date.

    The way to settle a held policy whose e-mail or phone an account holds wrongly (an agent's address
    typed for a client, say): give the account its holder's own contact, then `idp policies recheck
    NUMBER`. An e-mail or phone that is another account's login is refused. Audited as account.updated.
    """
    account, changed = correct_account(current_app.extensions["idp"], Actor(via="cli"), login, email=email,
                                       phone=phone, full_name=full_name, birth_date=birth_date)
    data = describe_account(account, changed)
    emit(data, as_json, None if as_json else "\n".join(
        [f"changed: {', '.join(changed) or 'nothing'}"] + [f"{key}: {'' if value is None else value}"
                                                          for key, value in describe(account).items()]))


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
    if not account.is_admin:
        account.is_admin = True
        record("admin.action", at=current_app.extensions["idp"].clock.now(), account_id=account.id,
               action="grant_admin", via="cli")
    db.session.commit()
    emit(describe(account), as_json)


def _set_support(login: str, value: bool, as_json: bool) -> None:
    account = get_by_login(login)
    if account.is_support != value:
        account.is_support = value
        record("admin.action", at=current_app.extensions["idp"].clock.now(), account_id=account.id,
               action="grant_support" if value else "revoke_support", via="cli")
    db.session.commit()
    emit({**describe(account), "is_support": account.is_support}, as_json)


@accounts.command("grant-support")
@click.argument("login")
@json_option
@domain_errors
def grant_support(login, as_json):
    """Give the account of LOGIN the support role: find and view customers' accounts and help them in the
    admin area (never clients or policy casework)."""
    _set_support(login, True, as_json)


@accounts.command("revoke-support")
@click.argument("login")
@json_option
@domain_errors
def revoke_support(login, as_json):
    """Take the support role from the account of LOGIN."""
    _set_support(login, False, as_json)
