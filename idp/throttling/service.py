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
        """Count a sign-in attempt for the address, then for the login, or say how long to wait.

        The attempt is counted before the password is checked, so parallel guesses cannot slip past a
        limit; :meth:`signed_in` takes it back from the address when it succeeds. The address comes first:
        an attempt its address may not make is not counted against the login it names, and an attempt the
        login may not make (nothing is checked) is given back to the address."""
        ip = ip_key("signin", address) if address else None  # no address: a call from inside (tests, tools)
        if ip is not None:
            allowed, until = self.store.reserve(ip, self.limits.ip, now)
            if not allowed:
                return self._wait(until, now)
        allowed, until = self.store.reserve(login_key("signin", login_value), self.limits.login, now)
        if not allowed:
            if ip is not None:
                self.store.release(ip, self.limits.ip)
            return self._wait(until, now)
        return Verdict(True)

    @staticmethod
    def _wait(until: datetime | None, now: datetime) -> Verdict:
        return Verdict(False, max(1, math.ceil(((until or now) - now).total_seconds())))

    def signed_in(self, login_value: str, address: str | None = None) -> None:
        """A success forgives the login's failures and is no failure of its address: the attempt counted for
        the address is taken back, so customers behind one address (an office, a NAT, a mobile carrier) are
        held only by failures. The address's failures themselves decay with time."""
        self.store.clear(login_key("signin", login_value))
        if address:
            self.store.release(ip_key("signin", address), self.limits.ip)

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
