"""Every text the portal shows by code, in Russian; pages carry the code in ``data-code`` for tests."""
from __future__ import annotations

_TRY_AGAIN = "Попробуйте войти ещё раз."
_BROKEN_PROVIDER = ("Личный кабинет ответил так, что портал не может ему доверять; вход отменён ради вашей "
                    "безопасности. Сообщите, пожалуйста, администратору портала.")
_MISCONFIGURED = ("Портал настроен неверно, поэтому войти сейчас нельзя. Сообщите, пожалуйста, "
                  "администратору портала.")

TEXTS = {
    # Errors the provider returns to /callback (OpenID Connect Core 3.1.2.6, RFC 6749 4.1.2.1).
    "oauth.login_required": "Вы ещё не вошли в личный кабинет. Нажмите «Войти через личный кабинет» "
                            "и введите логин и пароль.",
    "oauth.access_denied": "Вход отменён: доступ к данным личного кабинета не предоставлен.",
    "oauth.consent_required": "Личный кабинет просит подтвердить доступ портала к данным. " + _TRY_AGAIN,
    "oauth.interaction_required": "Личному кабинету нужно ваше участие, чтобы завершить вход. " + _TRY_AGAIN,
    "oauth.account_selection_required": "Выберите учётную запись в личном кабинете. " + _TRY_AGAIN,
    "oauth.invalid_grant": "Ссылка для входа устарела или уже использована. " + _TRY_AGAIN,
    "oauth.invalid_scope": "Портал запросил данные, которые личный кабинет не выдаёт. " + _MISCONFIGURED,
    "oauth.invalid_client": _MISCONFIGURED,
    "oauth.unauthorized_client": _MISCONFIGURED,
    "oauth.invalid_request": _MISCONFIGURED,
    "oauth.unsupported_response_type": _MISCONFIGURED,
    "oauth.unsupported_grant_type": _MISCONFIGURED,
    "oauth.server_error": "В личном кабинете произошла ошибка. Попробуйте войти чуть позже.",
    "oauth.temporarily_unavailable": "Личный кабинет временно недоступен. Попробуйте войти чуть позже.",
    "oauth.other": "Личный кабинет не смог выполнить вход. " + _TRY_AGAIN,
    # A callback that does not belong to a sign-in this browser started here.
    "callback.state": "Эта попытка входа устарела или начата в другой вкладке. " + _TRY_AGAIN,
    "callback.incomplete": "Ответ личного кабинета неполон. " + _TRY_AGAIN,
    "callback.issuer_mismatch": "Ответ пришёл не от того личного кабинета; вход отменён.",
    # The provider cannot be reached, or answered what a relying party must not accept.
    "provider.unreachable": "Личный кабинет сейчас недоступен. Попробуйте войти чуть позже.",
    "provider.bad_response": _BROKEN_PROVIDER,
    "provider.bad_id_token": _BROKEN_PROVIDER,
    "provider.no_id_token": _BROKEN_PROVIDER,
    "provider.issuer_mismatch": _MISCONFIGURED,
    # The portal's own buttons.
    "request.csrf": "Страница устарела. Откройте её заново и нажмите кнопку ещё раз.",
    "session.none": "Вы не вошли на портал (или сеанс портала закончился).",
    "signin.done": "Вы вошли через личный кабинет.",
    "refresh.done": "Токены обновлены: новый срок действия access token — ниже, в разделе «Токены».",
    "refresh.unavailable": "Личный кабинет не выдал refresh token (нужен scope offline_access); "
                           "чтобы продлить доступ, войдите снова.",
    "refresh.invalid_grant": "Сеанс в личном кабинете закончился или был отозван. Войдите снова.",
    "signout.done": "Вы вышли из портала и из личного кабинета.",
    "signout.unconfirmed": "Вы вышли из портала, но личный кабинет не подтвердил выход. "
                           "Если компьютер общий, закройте браузер.",
    "signout.unsupported": "Вы вышли из портала. Личный кабинет не поддерживает выход по запросу портала; "
                           "если компьютер общий, закройте браузер.",
    "userinfo.failed": "Не удалось получить данные UserInfo; показаны только данные из ID token.",
    "userinfo.unsupported": "Личный кабинет не предоставляет UserInfo; показаны только данные из ID token.",
    "userinfo.sub_mismatch": "Данные UserInfo относятся к другому человеку и не показаны.",
    "page.not_found": "Такой страницы на портале нет.",
    "page.method": "Эта страница открывается только кнопкой на портале.",
    "page.error": "На портале произошла ошибка. Попробуйте ещё раз чуть позже.",
}

#: Titles of the error page, by the code's prefix.
TITLES = {"oauth": "Войти не удалось", "callback": "Войти не удалось",
          "provider": "Личный кабинет недоступен", "refresh": "Обновить токены не удалось",
          "signout": "Выход", "request": "Страница устарела", "page": "Страница не найдена"}

#: Russian names of the values in the ``policies`` claim; a value not listed here is shown as sent.
POLICY_KINDS = {"individual": "индивидуальный", "corporate": "корпоративный (через работодателя)",
                "credit": "кредитный"}
POLICY_PRODUCTS = {"dms": "ДМС", "life": "страхование жизни",
                   "accident_illness": "от несчастных случаев и болезней"}
POLICY_STATUSES = {"active": "действует", "expired": "истёк", "terminated": "прекращён",
                   "cancelled": "аннулирован"}


def text(code: str) -> str:
    """The words for ``code``; an unknown provider error falls back to ``oauth.other``."""
    if code in TEXTS:
        return TEXTS[code]
    if code.startswith("oauth."):
        return TEXTS["oauth.other"]
    return TEXTS["page.error"]


def title(code: str) -> str:
    return TITLES.get(code.split(".", 1)[0], "Что-то пошло не так")
