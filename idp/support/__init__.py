"""The contact centre's (and admins') work on a customer's account: one set of rules behind the admin web area,
the admin REST API and ``idp support``::

    Operator(login, via, origin, account_id, client_id)      # who acts; .details() for the audit
    resolve_account(ref) -> Account                           # a login, policy number or sub; AccountNotFound
    find_accounts(query, birth_date=None, limit=20) -> [Account]  # a name needs a birth date (InvalidQuery)
    account_view(services, account, now) -> dict              # JSON-ready, masked, never a secret
    record_view(operator, account, now)                       # audit «support.viewed» (caller commits)
    resend_welcome / send_temporary_password / unlock / block / unblock / sign_out
        (services, operator, account, *, reason, token=None) -> ActionResult
    perform(services, operator, account, action_name, reason=…, token=…)

Layering: this package imports accounts, audit, oidc, passwords, delivery, policies, sessions, throttling;
none of them imports it.
"""
from idp.support.actions import (ACTIONS, BLOCK, RESEND_WELCOME, SEND_TEMPORARY_PASSWORD, SIGN_OUT, UNBLOCK, UNLOCK,
                                 ActionResult, InvalidReason, InvalidToken, block, check_reason, lockouts, perform,
                                 resend_welcome, send_temporary_password, sign_out, unblock, unlock)
from idp.support.service import AccountNotFound, InvalidQuery, Operator, find_accounts, resolve_account
from idp.support.view import account_view, record_view

__all__ = [
    "ACTIONS", "BLOCK", "RESEND_WELCOME", "SEND_TEMPORARY_PASSWORD", "SIGN_OUT", "UNBLOCK", "UNLOCK",
    "AccountNotFound", "ActionResult", "InvalidQuery", "InvalidReason", "InvalidToken", "Operator",
    "account_view", "block", "check_reason", "find_accounts", "lockouts", "perform", "record_view",
    "resend_welcome", "resolve_account", "send_temporary_password", "sign_out", "unblock", "unlock",
]
