"""Accounts: who a customer is, and the logins (e-mail, mobile phone) they sign in with."""
from idp.accounts.logins import InvalidLogin, Login, display_phone, normalize_email, normalize_phone, parse_login
from idp.accounts.models import Account
from idp.accounts.service import (AccountExists, AccountNotFound, create_account, describe, find_by_login,
                                  get_by_login, update_account)

__all__ = [
    "Account", "AccountExists", "AccountNotFound", "InvalidLogin", "Login", "create_account", "describe",
    "display_phone", "find_by_login", "get_by_login", "normalize_email", "normalize_phone", "parse_login",
    "update_account",
]
