"""The limits the provider applies, by purpose: sign-in failures and «Забыли пароль?» requests.

Keys are derived from what was typed (the normalised login, hashed) and the client's address, never
from whether an account exists, so the answers reveal nothing about which logins are registered.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from idp.throttling.policy import WaitPolicy


def login_key(purpose: str, login_value: str) -> str:
    return f"{purpose}:login:" + hashlib.sha256(login_value.encode("utf-8")).hexdigest()[:40]


def ip_key(purpose: str, address: str) -> str:
    return f"{purpose}:ip:{address[:45]}"


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int = 0  # whole seconds, rounded up


@dataclass(frozen=True)
class Limits:
    login: WaitPolicy = WaitPolicy()
    #: One address may try more logins (a corporate network behind one address) but not endlessly.
    ip: WaitPolicy = WaitPolicy(threshold=20, forget_after=timedelta(hours=1))
    #: «Забыли пароль?»: (requests, window seconds) per login and per address.
    reset_per_login: tuple[tuple[int, int], ...] = ((1, 60), (5, 3600))
    reset_per_ip: tuple[tuple[int, int], ...] = ((10, 60), (50, 3600))


class Throttler:
    def __init__(self, store, limits: Limits = Limits()):
        self.store = store
        self.limits = limits

    def before_sign_in(self, login_value: str, address: str | None, now: datetime) -> Verdict:
        """Count a sign-in attempt for the login and the address, or say how long to wait."""
        waits = []
        keys = [(login_key("signin", login_value), self.limits.login)]
        if address:  # no address: a call from inside (tests, tools), not from the network
            keys.append((ip_key("signin", address), self.limits.ip))
        for key, policy in keys:
            allowed, until = self.store.reserve(key, policy, now)
            if not allowed:
                waits.append(until)
        if waits:
            latest = max((until or now) for until in waits)
            return Verdict(False, max(1, math.ceil((latest - now).total_seconds())))
        return Verdict(True)

    def signed_in(self, login_value: str) -> None:
        """A success forgives the login's failures (the address's decay with time)."""
        self.store.clear(login_key("signin", login_value))

    def before_reset(self, login_value: str, address: str | None, now: datetime) -> bool:
        """May a temporary password be sent now? Windows are checked in order, the shortest first; a
        request refused by one window is not counted in the next, so a double click costs no hourly quota.

        The address's windows come first: a request its address may not make must not use up the quota of
        the login it names, or one address, however limited, could keep any customer from getting a
        temporary password by naming their login once a minute."""
        windows = [(ip_key("reset", address), limit, window) for limit, window in self.limits.reset_per_ip] \
            if address else []
        windows += [(login_key("reset", login_value), limit, window) for limit, window in self.limits.reset_per_login]
        return all(self.store.hit(key, limit, window, now) for key, limit, window in windows)
