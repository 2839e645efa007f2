"""The hosted pages customers see: sign-in, «Забыли пароль?», «Изменение пароля», «Личный кабинет»."""
from flask import Blueprint

bp = Blueprint("web", __name__)

from idp.web import views  # noqa: E402,F401  (routes register on import)
from idp.web.context import current_account, safe_next, services  # noqa: E402

__all__ = ["bp", "current_account", "safe_next", "services"]
