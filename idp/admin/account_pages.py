"""The contact centre's pages (``/admin/accounts…``), open to support operators and admins.

    /admin/accounts              find an account (e-mail, phone, policy number or sub; or name + birth date)
"""
from __future__ import annotations

from flask import render_template

from idp.admin.access import current_admin, for_support
from idp.admin.views import bp


@bp.get("/accounts")
@for_support
def accounts():
    return render_template("admin/accounts.html", admin=current_admin())
