"""The hosted pages customers see: sign-in, «Забыли пароль?», «Изменение пароля», «Личный кабинет»."""
from idp.web.context import current_account, safe_next, services
from idp.web.views import bp  # the blueprint, its routes registered

__all__ = ["bp", "current_account", "safe_next", "services"]
