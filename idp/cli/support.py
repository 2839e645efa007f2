"""``idp support …``: the contact centre's work from a terminal — find, show, and help a customer.

ACCOUNT is any login (an e-mail, a phone in any usual writing), a policy number or a ``sub``. Every action
asks for ``--reason``, which goes to the audit with the operator (``cli:<OS user>``); every look at an
account is audited too (``support.viewed``).
"""
from __future__ import annotations

import getpass
import json

import click
from flask import current_app
from flask.cli import AppGroup

from idp.audit import Origin
from idp.cli.output import domain_errors, emit, json_option
from idp.delivery import mask_recipient
from idp.extensions import db
from idp.policies.persons import parse_birth_date
from idp.support import (Operator, account_view, block, find_accounts, record_view, resend_welcome,
                         resolve_account, send_temporary_password, sign_out, unblock, unlock)

support = AppGroup("support", help="The contact centre: find a customer's account, see it, help (audited).")


def _services():
    return current_app.extensions["idp"]


def cli_operator() -> Operator:
    """The person at the terminal: ``cli:`` and the OS user."""
    try:
        user = getpass.getuser()
    except Exception:  # no user name in this environment (a container without one)
        user = "unknown"
    return Operator(login="cli:" + user, via="cli", origin=Origin())


def _summary(account) -> dict:
    return {"subject": account.subject,
            "email": mask_recipient(account.email) if account.email else None,
            "phone": mask_recipient(account.phone) if account.phone else None,
            "full_name": account.full_name, "blocked": account.disabled_at is not None}


@support.command("find")
@click.argument("query")
@click.option("--birth-date", help="YYYY-MM-DD: needed with a name (a name alone is too broad).")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 100))
@json_option
@domain_errors
def find(query, birth_date, limit, as_json):
    """Find accounts by e-mail, phone (any usual writing), policy number, sub, or name with --birth-date."""
    services = _services()
    born = parse_birth_date(birth_date, today=services.clock.now().date()) if birth_date else None
    found = [_summary(account) for account in find_accounts(query, birth_date=born, limit=limit)]
    if as_json:
        emit(found, True)
    elif not found:
        click.echo("no account found")
    else:
        emit(found, False)


def _human_view(view: dict) -> str:
    lines = [f"sub: {view['subject']}", f"name: {view['full_name'] or ''}",
             f"e-mail: {view['email'] or ''}{' (verified)' if view['email_verified'] else ''}",
             f"phone: {view['phone'] or ''}{' (verified)' if view['phone_verified'] else ''}",
             f"state: {view['state']}" + (f" until {view['temporary_expires_at']}"
                                          if view['temporary_expires_at'] else "")]
    lines.append("policies:" if view["policies"] else "policies: none")
    lines += [f"  {p['number']} {p['product']} {p['state']}" + (f" ({p['reason']})" if p["reason"] else "")
              for p in view["policies"]]
    lines.append("messages:" if view["messages"] else "messages: none")
    lines += [f"  {m['created_at']} {m['purpose']} {m['channel']} {m['recipient']} {m['state']}"
              + (f" sent {m['sent_at']}" if m["sent_at"] else "")
              + (f" id {m['provider_message_id']}" if m["provider_message_id"] else "")
              + (f" ({m['last_error'] or m['outcome_detail']})" if m["last_error"] or m["outcome_detail"] else "")
              for m in view["messages"]]
    lines.append("lockouts:" if view["lockouts"] else "lockouts: none")
    lines += [f"  {row['login']} {row['counter']}: {row['seconds_left']} s left" for row in view["lockouts"]]
    lines.append(f"open sessions: {len(view['sessions'])}")
    lines.append("applications: " + (", ".join(a["client"] for a in view["applications"]) or "none"))
    lines.append("events:" if view["events"] else "events: none")
    lines += [f"  {e['at']} {e['event']}" + (f" {e['client']}" if e["client"] else "")
              + (f" {json.dumps(e['details'], ensure_ascii=False)}" if e["details"] else "")
              for e in view["events"]]
    return "\n".join(lines)


@support.command("show")
@click.argument("account")
@json_option
@domain_errors
def show(account, as_json):
    """Show ACCOUNT as the contact centre sees it (contacts masked, never a password). Audited."""
    services = _services()
    found = resolve_account(account)
    now = services.clock.now()
    view = account_view(services, found, now)
    record_view(cli_operator(), found, now)
    db.session.commit()
    emit(view, as_json, None if as_json else _human_view(view))


def _action(name: str, function, help_text: str):
    @support.command(name, help=help_text)
    @click.argument("account")
    @click.option("--reason", required=True, help="Why (the customer's request): goes to the audit with your login.")
    @json_option
    @domain_errors
    def command(account, reason, as_json):
        services = _services()
        result = function(services, cli_operator(), resolve_account(account), reason=reason)
        data = result.as_dict()
        data.pop("account_id", None)
        emit(data, as_json, None if as_json else f"{name}: done" + "".join(
            f"\n{key}: {value}" for key, value in result.details.items()))

    return command


_action("send-temporary-password", send_temporary_password,
        "Send ACCOUNT a temporary password to its own channel, as «Забыли пароль?» does (you never see it).")
_action("resend-welcome", resend_welcome, "Send ACCOUNT the welcome message again (e-mail and SMS).")
_action("unlock", unlock, "Lift the sign-in lockouts of ACCOUNT's logins (every address).")
_action("block", block, "Block ACCOUNT: no sign-in; sessions ended, tokens revoked.")
_action("unblock", unblock, "Unblock ACCOUNT.")
_action("sign-out", sign_out, "Sign ACCOUNT out everywhere: sessions ended, refresh and access tokens revoked.")

__all__ = ["cli_operator", "support"]
