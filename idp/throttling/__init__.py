"""Throttling: growing waits after failed sign-ins, rate limits on «Забыли пароль?», shared by instances."""
from idp.throttling.models import RateCounter, Throttle
from idp.throttling.policy import WaitPolicy
from idp.throttling.service import Limits, Throttler, Verdict
from idp.throttling.redis_store import RedisStore
from idp.throttling.sql_store import SqlStore

__all__ = ["Limits", "RateCounter", "RedisStore", "SqlStore", "Throttle", "Throttler", "Verdict", "WaitPolicy"]
