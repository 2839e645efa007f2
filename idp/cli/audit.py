"""``idp audit``: the security events, filtered."""
from __future__ import annotations

from datetime import datetime

import click
from flask.cli import with_appcontext

from idp.accounts import get_by_login
from idp.audit import describe, search
from idp.cli.output import domain_errors, emit, json_option


def _when(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.rstrip("Z")).replace(tzinfo=None)
    except ValueError:
        raise click.BadParameter(f"not an ISO date or time: {value!r}") from None


@click.command("audit")
@click.option("--event", help='An event name, or a family such as "signin.*".')
@click.option("--account", "login", help="Only this customer's events (e-mail or phone).")
@click.option("--client", "client_id", help="Only this client's events.")
@click.option("--ip", help="Only events from this address.")
@click.option("--since", help="From this UTC time (ISO 8601).")
@click.option("--until", help="Before this UTC time (ISO 8601).")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100000))
@json_option
@with_appcontext
@domain_errors
def audit_command(event, login, client_id, ip, since, until, limit, as_json):
    """Show the audit trail of security events, newest first."""
    account_id = get_by_login(login).id if login else None
    rows = search(event=event, account_id=account_id, client_id=client_id, ip=ip, since=_when(since),
                  until=_when(until), limit=limit)
    if as_json:
        emit([describe(row) for row in rows], True)
    else:
        for row in rows:
            click.echo(f"{row.at.isoformat()}Z  {row.event:<18} account={row.account_id or '-'} "
                       f"client={row.client_id or '-'} ip={row.ip or '-'} {row.details or ''}")
