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


def pair_key(purpose: str, login_value: str, address: str | None) -> str:
    """The login as typed from one address (no address: a call from inside — tests, tools). The login's hash
    comes first, so every address's counter of one login shares a prefix (:func:`pair_prefix`) an operator's
    "lift the lockout" can find."""
    where = hashlib.sha256((address or "-")[:45].encode("utf-8")).hexdigest()[:16]
    return f"{pair_prefix(purpose, login_value)}{where}"


def pair_prefix(purpose: str, login_value: str) -> str:
    return f"{purpose}:pair:" + hashlib.sha256(login_value.encode("utf-8")).hexdigest()[:40] + ":"


def ip_key(purpose: str, address: str) -> str:
    return f"{purpose}:ip:{address[:45]}"


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int = 0  # whole seconds, rounded up
    #: Refused by the login's own ceiling (every address together): a stranger may be at work, and the
    #: customer is told to call the contact centre rather than only to wait.
    login_ceiling: bool = False


@dataclass(frozen=True)
class Limits:
    """Three counters per purpose. The login *at one address* has the tight limit a customer meets when they
    mistype; the login *from everywhere* has a ceiling well above what one address may use, so a stranger
    with a few addresses cannot use up the customer's attempts; the *address* has a limit across logins."""

    #: Sign-in failures of one login from one address.
    pair: WaitPolicy = WaitPolicy()
    #: Sign-in failures of one login from all addresses: one address earns about a dozen an hour.
    login: WaitPolicy = WaitPolicy(threshold=100)
    #: One address may try more logins (a corporate network behind one address) but not endlessly.
    ip: WaitPolicy = WaitPolicy(threshold=20, forget_after=timedelta(hours=1))
    #: «Забыли пароль?»: (requests, window seconds) per login from one address, per login, per address.
    reset_per_pair: tuple[tuple[int, int], ...] = ((1, 60), (5, 3600))
    reset_per_login: tuple[tuple[int, int], ...] = ((10, 60), (40, 3600))
    reset_per_ip: tuple[tuple[int, int], ...] = ((10, 60), (50, 3600))


class Throttler:
    def __init__(self, store, limits: Limits = Limits()):
        self.store = store
        self.limits = limits

    def _sign_in_keys(self, login_value: str, address: str | None) -> list[tuple[str, str, WaitPolicy]]:
        """(counter, key, policy) in the order they are counted: the address, the pair, the login."""
        keys = [("ip", ip_key("signin", address), self.limits.ip)] if address else []
        return keys + [("pair", pair_key("signin", login_value, address), self.limits.pair),
                       ("login", login_key("signin", login_value), self.limits.login)]

    def before_sign_in(self, login_value: str, address: str | None, now: datetime) -> Verdict:
        """Count a sign-in attempt for the address, the login at that address and the login, or say how long
        to wait.

        The attempt is counted before the password is checked, so parallel guesses cannot slip past a
        limit; :meth:`signed_in` takes it back from the address when it succeeds. The counters are taken in
        that order and an attempt refused by one is given back to those before it: an attempt its address
        may not make never counts against the login it names, and one the login may not make (nothing is
        checked) is no failure of the address."""
        counted: list[tuple[str, WaitPolicy]] = []
        for counter, key, policy in self._sign_in_keys(login_value, address):
            allowed, until = self.store.reserve(key, policy, now)
            if not allowed:
                for earlier, earlier_policy in counted:
                    self.store.release(earlier, earlier_policy)
                return Verdict(False, max(1, math.ceil(((until or now) - now).total_seconds())),
                               login_ceiling=counter == "login")
            counted.append((key, policy))
        return Verdict(True)

    def signed_in(self, login_value: str, address: str | None = None) -> None:
        """A success forgives the login's failures and is no failure of its address: the attempt counted for
        the address is taken back, so customers behind one address (an office, a NAT, a mobile carrier) are
        held only by failures. The address's failures themselves decay with time."""
        for counter, key, policy in self._sign_in_keys(login_value, address):
            if counter == "ip":
                self.store.release(key, policy)
            else:
                self.store.clear(key)

    def before_reset(self, login_value: str, address: str | None, now: datetime) -> Verdict:
        """May a temporary password be sent now? Windows are checked in order, the shortest first; a
        request refused by one window is not counted in the next, so a double click costs no hourly quota.

        The address's windows come first, then the login's at that address, then the login's ceiling: a
        request its address may not make must not use up the quota of the login it names, and what strangers
        elsewhere ask for that login must not use up the customer's own quota at their address."""
        windows = [("ip", ip_key("reset", address), self.limits.reset_per_ip)] if address else []
        windows += [("pair", pair_key("reset", login_value, address), self.limits.reset_per_pair),
                    ("login", login_key("reset", login_value), self.limits.reset_per_login)]
        for counter, key, limits in windows:
            for limit, window in limits:
                if not self.store.hit(key, limit, window, now):
                    return Verdict(False, login_ceiling=counter == "login")
        return Verdict(True)
