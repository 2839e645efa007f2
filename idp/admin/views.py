"""The admin web area (``/admin/``): list, register, disable and enable OAuth clients; read the audit trail.

Views are thin: the form is read and checked by :mod:`idp.admin.forms`, changes go through
:mod:`idp.admin.operations`. Every request passes :func:`idp.admin.access.require_admin` first.
"""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint, flash, redirect, render_template, request, url_for

from idp.admin import operations
from idp.admin.access import current_admin, require_admin
from idp.admin.forms import SCOPE_CHOICES, ClientForm
from idp.accounts import get_by_login
from idp.audit import EVENTS, Origin, search
from idp.clients import list_clients
from idp.errors import IdpError
from idp.web.context import services

bp = Blueprint("admin", __name__, url_prefix="/admin")
bp.before_request(require_admin)


def _actor() -> operations.Actor:
    origin = Origin(ip=request.remote_addr, user_agent=request.user_agent.string[:300] or None)
    return operations.Actor(via="web", origin=origin, account_id=current_admin().id)


@bp.get("/")
def clients():
    return render_template("admin/clients.html", clients=list_clients(), admin=current_admin())


@bp.get("/clients/new")
def new_client():
    return _form_page(ClientForm())


@bp.post("/clients/new")
def create_client():
    form = ClientForm.from_form(request.form)
    if not form.validate():
        return _form_page(form, status=400)
    try:
        created = operations.register(services(), _actor(), **form.values())
    except IdpError as exc:
        form.add_domain_error(exc)
        return _form_page(form, status=exc.status)
    # Rendered here, never redirected: the secret is in this one response and nowhere else (no session,
    # no flash); the page is ``Cache-Control: no-store`` like every hosted page.
    return render_template("admin/created.html", client=created.client, secret=created.secret,
                           admin=current_admin())


@bp.post("/clients/<client_id>/disable")
def disable_client(client_id: str):
    operations.disable(services(), _actor(), client_id)
    flash("admin.client.disabled_done", "success")
    return redirect(url_for("admin.clients", _anchor=f"client-{client_id}"))


@bp.post("/clients/<client_id>/enable")
def enable_client(client_id: str):
    operations.enable(services(), _actor(), client_id)
    flash("admin.client.enabled_done", "success")
    return redirect(url_for("admin.clients", _anchor=f"client-{client_id}"))


def _form_page(form: ClientForm, status: int = 200):
    return render_template("admin/new_client.html", form=form, scope_choices=SCOPE_CHOICES,
                           admin=current_admin()), status


@bp.get("/audit")
def audit():
    """The audit trail, newest first, filtered by event family, customer login and start date."""
    event = (request.args.get("event") or "").strip()[:60]
    login = (request.args.get("login") or "").strip()[:254]
    since_text = (request.args.get("since") or "").strip()[:10]
    errors, account_id, since = [], None, None
    if login:
        try:
            account_id = get_by_login(login).id
        except IdpError:
            errors.append("admin.audit.unknown_login")
    if since_text:
        try:
            since = datetime.strptime(since_text, "%Y-%m-%d")
        except ValueError:
            errors.append("admin.audit.bad_date")
    if event and event not in EVENTS and not (event.endswith(".*") and any(e.startswith(event[:-1]) for e in EVENTS)):
        errors.append("admin.audit.unknown_event")
    rows = [] if errors else search(event=event or None, account_id=account_id, since=since, limit=200)
    families = sorted({name.split(".")[0] + ".*" for name in EVENTS}) + sorted(EVENTS)
    return render_template("admin/audit.html", rows=rows, errors=errors, event=event, login=login,
                           since=since_text, families=families, admin=current_admin()), 400 if errors else 200
