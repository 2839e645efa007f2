"""The seed's welcome: «Мы зарегистрировали Вас в Личном кабинете…», to every channel the customer has.

Queued in the outbox inside the transaction that creates the account, so the account and its messages
exist together or not at all. Texts: ``templates/messages/account_created/``.
"""
from __future__ import annotations

from idp.accounts import Account, display_phone
from idp.delivery import EMAIL, SMS, Delivery, enqueue

PURPOSE = "account_created"


def welcome_params(account: Account, issuer: str, sms_link: str) -> dict:
    return {
        "login_url": issuer + "/login",
        "site_url": sms_link,
        "email": account.email,
        "phone": display_phone(account.phone) if account.phone else None,
    }


def enqueue_welcome(services, account: Account) -> list[Delivery]:
    """Queue the welcome e-mail and SMS (flushed, not committed); one per channel the account has."""
    params = welcome_params(account, services.settings.issuer, services.settings.sms_link)
    return [enqueue(services, PURPOSE, channel=channel, recipient=recipient, account_id=account.id,
                    params=params)
            for channel, recipient in ((EMAIL, account.email), (SMS, account.phone)) if recipient]
