"""The admin web area (``/admin/``): OAuth clients, the audit trail, and what the automation left to an admin.

    /admin/                      clients: list, register, edit, rotate the secret, disable, enable
    /admin/audit                 the audit trail
    /admin/held                  policies held for data or an admin, with the conflict; «Перепроверить»
    /admin/refused               policies refused by rule, filtered by reason (read-only)
    /admin/policies/<number>     one policy and the accounts its contacts belong to
    /admin/deliveries            messages by state (recipients masked); «Отправить снова» for dead ones
    /admin/accounts…             the contact centre's account pages (:mod:`idp.admin.account_pages`)

Views are thin: the form is read and checked by :mod:`idp.admin.forms`, changes go through
:mod:`idp.admin.operations` and :mod:`idp.admin.casework`. Every request passes
:func:`idp.admin.access.require_admin` first: an admin opens everything, a support operator only the views
marked :func:`idp.admin.access.for_support`.
"""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint, flash, redirect, render_template, request, url_for

from idp.admin import casework, operations
from idp.admin.access import current_admin, may_open, require_admin
from idp.admin.editing import ClientEditForm
from idp.admin.forms import SCOPE_CHOICES, ClientForm
from idp.admin.paging import InvalidQuery, choice_of, number_of
from idp.accounts import get_by_login
from idp.audit import EVENTS, Origin, search
from idp.clients import OAuthClient, get_client, list_clients
from idp.delivery import mask_recipient
from idp.delivery.failures import FAILED, FILTERS, NotRequeueable, requeueable, state_of
from idp.errors import IdpError
from idp.policies import conflicts_for
from idp.policies.eligibility import REFUSED_REASONS
from idp.web.context import services

bp = Blueprint("admin", __name__, url_prefix="/admin")
bp.before_request(require_admin)


@bp.context_processor
def _roles():
    return {"may_open": may_open}


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


@bp.get("/clients/<client_id>/edit")
def edit_client(client_id: str):
    client = get_client(client_id)
    return _edit_page(client, ClientEditForm.of_client(client))


@bp.post("/clients/<client_id>/edit")
def update_client(client_id: str):
    client = get_client(client_id)
    form = ClientEditForm.posted(request.form, client)
    if not form.validate():
        return _edit_page(client, form, status=400)
    try:
        operations.change(services(), _actor(), client_id, **form.values())
    except IdpError as exc:
        form.add_domain_error(exc)
        return _edit_page(get_client(client_id), form, status=exc.status)
    flash("admin.client.changed_done", "success")
    return redirect(url_for("admin.clients", _anchor=f"client-{client_id}"))


@bp.post("/clients/<client_id>/secret")
def rotate_client_secret(client_id: str):
    rotated = operations.new_secret(services(), _actor(), client_id)
    # As at registration: the new secret is in this one response (``no-store``) and nowhere else.
    return render_template("admin/created.html", client=rotated.client, secret=rotated.secret, rotated=True,
                           admin=current_admin())


def _edit_page(client: OAuthClient, form: ClientEditForm, status: int = 200):
    return render_template("admin/new_client.html", form=form, scope_choices=form.scope_choices, client=client,
                           admin=current_admin()), status


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


# -- what the automation left to an admin ---------------------------------------------------------------


@bp.get("/held")
def held():
    """Held policies, newest first, each with its reason and whose accounts its e-mail and phone are."""
    errors, found = [], None
    try:
        found = casework.held_policies(number_of(request.args.get("page")))
    except InvalidQuery as exc:
        errors.append(exc.code)
    conflicts = conflicts_for(found.items) if found else {}
    return render_template("admin/held.html", found=found, conflicts=conflicts, errors=errors,
                           admin=current_admin()), 400 if errors else 200


@bp.get("/refused")
def refused():
    """Refused policies (credit-linked, corporate without the account, not in force), by reason."""
    errors, found, reason = [], None, None
    try:
        reason = choice_of(request.args.get("reason"), REFUSED_REASONS, name="reason")
        found = casework.refused_policies(reason, number_of(request.args.get("page")))
    except InvalidQuery as exc:
        errors.append(exc.code)
    return render_template("admin/refused.html", found=found, reason=reason, reasons=REFUSED_REASONS,
                           errors=errors, admin=current_admin()), 400 if errors else 200


@bp.get("/policies/<path:number>")
def policy(number: str):
    found = casework.find_policy(number)
    return render_template("admin/policy.html", policy=found, conflicts=conflicts_for([found])[found.id],
                           admin=current_admin())


@bp.post("/policies/<path:number>/recheck")
def recheck_policy(number: str):
    outcome = casework.recheck_policy(services(), _actor(), number)
    flash(f"admin.recheck.{outcome.result}", "success" if outcome.state == "attached" else "info")
    return redirect(url_for("admin.policy", number=outcome.number))


@bp.get("/deliveries")
def deliveries():
    """Messages by state (by default dead letters and those waiting for a retry), recipients masked, never
    a payload."""
    errors, found, which = [], None, FAILED
    try:
        which = choice_of(request.args.get("status"), FILTERS, name="status", default=FAILED)
        found = casework.deliveries(which, number_of(request.args.get("page")))
    except InvalidQuery as exc:
        errors.append(exc.code)
    return render_template("admin/deliveries.html", found=found, which=which, filters=FILTERS, errors=errors,
                           mask=mask_recipient, requeueable=requeueable, state_of=state_of,
                           admin=current_admin()), \
        400 if errors else 200


@bp.post("/deliveries/<delivery_id>/requeue")
def requeue_delivery(delivery_id: str):
    try:
        row = casework.requeue_delivery(services(), _actor(), delivery_id)
    except NotRequeueable:
        flash("admin.deliveries.not_requeueable", "error")
        return redirect(url_for("admin.deliveries"))
    flash(f"admin.deliveries.requeued.{row.status if row.status in ('sent', 'dead') else 'queued'}",
          "success" if row.status == "sent" else "info")
    return redirect(url_for("admin.deliveries", _anchor=f"delivery-{row.id}"))
