"""``idp policies …``: issue one policy, import a CSV file, list held and refused policies, look again.

These run the same intake as ``POST /api/v1/policies``: an account appears (with its welcome e-mail and
SMS) exactly when the eligibility rules say so, and sending the same policy twice changes nothing.
"""
from __future__ import annotations

import codecs
import csv

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from idp.admin.casework import recheck_policy
from idp.admin.operations import Actor
from idp.cli.output import domain_errors, emit, json_option
from idp.errors import NotFound
from idp.extensions import db
from idp.policies import (HELD, KINDS, PRODUCTS, REASONS, REFUSED, STATUSES, ImportReport, Policy,
                          describe_policy, import_csv, issue_policy)
from idp.policies.importer import DEFAULT_BATCH, decoded_lines

policies = AppGroup("policies", help="Insurance policies from the policy system, and the accounts they give.")


def _services():
    return current_app.extensions["idp"]


class PolicyNotFound(NotFound):
    code = "policy.not_found"


def _get(number: str) -> Policy:
    policy = db.session.execute(select(Policy).where(Policy.number == number.strip())).scalar_one_or_none()
    if policy is None:
        raise PolicyNotFound(f"no policy {number!r}")
    return policy


def _outcome_text(data: dict) -> str:
    lines = [f"policy {data['number']}: {data['result']}"]
    if data["reason"]:
        lines.append(f"reason: {data['reason']} — {data['reason_text']}")
    if data["detail"]:
        lines.append(f"detail: {data['detail']}")
    if data["account"]:
        lines.append(f"account: {data['account']}")
    for code in data["notes"]:
        lines.append(f"note: {code}")
    if data["released"]:
        lines.append(f"also joined the account: {', '.join(data['released'])}")
    return "\n".join(lines)


@policies.command("issue")
@click.option("--number", required=True,
              help="The policy number (the key: sending the same policy again changes nothing).")
@click.option("--kind", required=True, type=click.Choice(KINDS))
@click.option("--product", required=True, type=click.Choice(PRODUCTS))
@click.option("--status", default="active", show_default=True, type=click.Choice(STATUSES))
@click.option("--start", "start_date", required=True, help="Start date, YYYY-MM-DD.")
@click.option("--end", "end_date", required=True, help="End date, YYYY-MM-DD.")
@click.option("--name", "full_name", required=True, help="Full name of the policyholder or insured person.")
@click.option("--birth-date", required=True, help="Birth date, YYYY-MM-DD.")
@click.option("--email", help="The customer's own e-mail.")
@click.option("--phone", help="The customer's own mobile phone, any usual writing.")
@click.option("--employer", help="Corporate policies: the employer.")
@click.option("--includes-account/--without-account", "includes_account", default=None,
              help="Corporate policies: does the contract include the client account.")
@json_option
@domain_errors
def issue(number, kind, product, status, start_date, end_date, full_name, birth_date, email, phone, employer,
          includes_account, as_json):
    """Tell the provider a policy was issued; the account and its messages follow the rules."""
    document = {"number": number, "kind": kind, "product": product, "status": status,
                "start_date": start_date, "end_date": end_date,
                "person": {"full_name": full_name, "birth_date": birth_date, "email": email, "phone": phone}}
    if employer is not None or includes_account is not None:
        document["employer"] = {"name": employer, "includes_account": includes_account}
    data = issue_policy(_services(), document, source="cli").as_dict()
    emit(data, as_json, None if as_json else _outcome_text(data))


@policies.command("import")
@click.argument("file", type=click.File("rb", lazy=False))
@click.option("--encoding", default="utf-8", show_default=True,
              help="The file's text encoding, e.g. cp1251 for a CSV saved by Excel on Russian Windows.")
@click.option("--batch", default=DEFAULT_BATCH, show_default=True, type=click.IntRange(1, 100_000),
              help="Rows per transaction.")
@click.option("--problems", "problems_file", type=click.File("w", encoding="utf-8", lazy=True),
              help="Write every held, refused and invalid row to this CSV file as it is met.")
@click.option("--quiet", is_flag=True, help="No progress lines on stderr.")
@json_option
@domain_errors
def import_(file, encoding, batch, problems_file, quiet, as_json):
    """Import policies from FILE.csv.

    Columns (header line, any order, "," or ";"): number, kind, product, status, start_date, end_date,
    full_name, birth_date, email, phone, employer, includes_account.

    Streams the file, commits every --batch rows and prints progress on stderr; importing the same file
    again changes nothing and sends no second welcome. Ends with a report that accounts for every line:
    lines = 1 header + blank lines + rows, and every row is an account created, attached, updated,
    unchanged, held, refused (with its reason), invalid (with its line and reason: the data, or the line
    itself — a wrong number of values, a quote that does not close on its line, a line over 8,192
    characters, bytes not in the file's encoding) or not stored (the database failed under it). A row is
    one line; a malformed line never takes the lines after it along. Welcome messages are queued
    with their accounts; in IDP_DELIVERY_MODE=inline they are also sent batch by batch, in worker mode
    `idp deliveries run` sends them (better for large files).

    Exits 1 when the import stopped early (the database or the file failed: the rows read before are
    stored, the report names the last line read) or when a line was not text in --encoding.
    """
    on_problem = None
    if problems_file is not None:
        writer = csv.DictWriter(problems_file, fieldnames=["line", "number", "result", "reason", "detail"])
        writer.writeheader()

        def on_problem(problem: dict) -> None:
            writer.writerow({key: _cell(value) for key, value in problem.items()})

    def progress(report: ImportReport) -> None:
        if not quiet:
            click.echo(f"{report.rows} rows: {report.counts['account_created']} accounts created, "
                       f"{report.counts['attached']} attached, {report.counts['held']} held, "
                       f"{report.counts['refused']} refused, {report.counts['invalid']} invalid"
                       + (f", {report.counts['not_stored']} not stored" if report.counts["not_stored"]
                          else "")
                       + f" ({report.rate:.0f} rows/s)", err=True)

    try:
        codecs.lookup(encoding)
    except LookupError:
        raise click.BadParameter(f"unknown encoding {encoding!r}", param_hint="--encoding") from None
    if encoding.lower().replace("_", "-") in ("utf-8", "utf8"):
        encoding = "utf-8-sig"  # a byte-order mark (Excel's "CSV UTF-8") is not part of the header
    report = import_csv(_services(), decoded_lines(file, encoding), batch_size=batch, progress=progress,
                        on_problem=on_problem)
    emit(report.as_dict(), as_json, None if as_json else _report_text(report))
    undecodable = report.reasons.get("import.bad_encoding", 0)
    if report.stopped:
        click.echo(f"Error: stopped early after line {report.stopped['line']}: {report.stopped['error']}: "
                   f"{report.stopped['error_description']}", err=True)
    if undecodable:
        first = next((p for p in report.problems if p["reason"] == "import.bad_encoding"), None)
        click.echo(f"Error: import.bad_encoding: {undecodable} line{'s' if undecodable > 1 else ''} not "
                   f"{encoding.removesuffix('-sig')} text, not imported"
                   + (f" (first: line {first['line']}: {first['detail']})" if first else ""), err=True)
    if report.stopped or undecodable:
        raise SystemExit(1)


def _cell(value):
    """A value for a spreadsheet: text that a spreadsheet would run as a formula is quoted."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _report_text(report: ImportReport) -> str:
    data = report.as_dict()
    lines = [f"lines: {data['lines']} = {data['header']} header + {data['blank']} blank + {data['rows']} rows"
             + (" (the rest not read)" if report.stopped else ""),
             f"rows: {data['rows']}",
             *(f"{name}: {data[name]}" for name in ("account_created", "attached", "updated", "unchanged",
                                                     "held", "refused", "invalid", "not_stored")),
             f"messages queued: {data['messages_queued']}",
             f"time: {data['seconds']} s ({data['rows_per_second']} rows/s)"]
    if report.reasons:
        lines.append("reasons:")
        lines.extend(f"  {reason}: {count} — {REASONS.get(reason, '')}".rstrip(" —")
                     for reason, count in sorted(report.reasons.items()))
    if report.problems:
        lines.append("rows not attached:")
        lines.extend(f"  line {p['line']} {p['number'] or '(no number)'}: {p['result']} {p['reason']}"
                     + (f" ({p['detail']})" if p["detail"] else "") for p in report.problems)
        if report.problems_left_off:
            lines.append(f"  … and {report.problems_left_off} more (use --problems FILE for all)")
    return "\n".join(lines)


@policies.command("held")
@click.option("--state", type=click.Choice([HELD, REFUSED]),
              help="Only held (waiting) or only refused policies.")
@click.option("--reason", type=click.Choice(sorted(REASONS)), help="Only this reason.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10000))
@json_option
def held(state, reason, limit, as_json):
    """List policies that gave no account: held for data or an admin, and refused, with their reasons."""
    query = select(Policy).where(Policy.state.in_([state] if state else [HELD, REFUSED]))
    if reason:
        query = query.where(Policy.reason == reason)
    query = query.order_by(Policy.id.desc()).limit(limit)
    rows = [describe_policy(p) for p in db.session.execute(query).scalars()]
    human = "\n".join(f"{r['number']}: {r['state']} {r['reason']} — {r['reason_text']}"
                      + (f" ({r['detail']})" if r["detail"] else "") for r in rows) or "(none)"
    emit(rows, as_json, None if as_json else human)


@policies.command("show")
@click.argument("number")
@json_option
@domain_errors
def show(number, as_json):
    """Show one policy: its data, what became of it and why."""
    emit(describe_policy(_get(number)), as_json)


@policies.command("recheck")
@click.argument("number")
@json_option
@domain_errors
def recheck_(number, as_json):
    """Evaluate a held policy again, e.g. after `idp accounts update` corrected an account's contacts."""
    data = recheck_policy(_services(), Actor(via="cli"), number).as_dict()
    emit(data, as_json, None if as_json else _outcome_text(data))
