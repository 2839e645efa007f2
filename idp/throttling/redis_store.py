"""Throttle and rate counters in Redis (``IDP_REDIS_URL``), each change one atomic Lua script.

Same contract as :class:`idp.throttling.sql_store.SqlStore`; the time comes from the provider's clock,
so waits and windows end at the same instants whichever store is used. Keys expire by themselves.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from idp.throttling.policy import WaitPolicy

_EPOCH = datetime(1970, 1, 1)

_RESERVE = """
local now, forget, threshold = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local base, cap = tonumber(ARGV[4]), tonumber(ARGV[5])
local data = redis.call('HMGET', KEYS[1], 'failures', 'blocked_until', 'updated_at')
local failures, blocked, updated = tonumber(data[1]) or 0, tonumber(data[2]), tonumber(data[3]) or now
if blocked and blocked > now then return {0, blocked} end
if updated < now - forget then failures = 0 end
failures = failures + 1
local block = ''
if failures >= threshold then
  local doublings = failures - threshold
  local wait = cap
  if doublings <= 30 then wait = math.min(base * 2 ^ doublings, cap) end
  block = now + wait
end
redis.call('HSET', KEYS[1], 'failures', failures, 'blocked_until', block, 'updated_at', now)
redis.call('EXPIRE', KEYS[1], forget + cap)
return {1, 0}
"""

_RELEASE = """
local failures = tonumber(redis.call('HGET', KEYS[1], 'failures'))
if not failures then return 0 end
failures = math.max(failures - 1, 0)
if failures < tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'failures', failures, 'blocked_until', '')
else
  redis.call('HSET', KEYS[1], 'failures', failures)
end
return 1
"""

_ADD = """
local hits = redis.call('INCRBY', KEYS[1], ARGV[2])
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return hits
"""


def _seconds(moment: datetime) -> int:
    return int((moment - _EPOCH).total_seconds())


class RedisStore:
    def __init__(self, client, prefix: str = "idp:"):
        self.client = client
        self.prefix = prefix
        self._reserve = client.register_script(_RESERVE)
        self._release = client.register_script(_RELEASE)
        self._add = client.register_script(_ADD)

    @classmethod
    def from_url(cls, url: str) -> "RedisStore":
        import redis

        return cls(redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2))

    def reserve(self, key: str, policy: WaitPolicy, now: datetime) -> tuple[bool, datetime | None]:
        allowed, blocked = self._reserve(
            keys=[self.prefix + "throttle:" + key],
            args=[_seconds(now), int(policy.forget_after.total_seconds()), policy.threshold,
                  int(policy.base.total_seconds()), int(policy.cap.total_seconds())])
        if allowed:
            return True, None
        return False, _EPOCH + timedelta(seconds=int(blocked))

    def release(self, key: str, policy: WaitPolicy) -> None:
        self._release(keys=[self.prefix + "throttle:" + key], args=[policy.threshold])

    def clear(self, key: str) -> None:
        self.client.hset(self.prefix + "throttle:" + key, mapping={"failures": 0, "blocked_until": ""})

    def find_prefix(self, prefix: str, limit: int = 1000) -> list[dict]:
        """As :meth:`SqlStore.find_prefix`: SCAN MATCH over the throttle keys (no KEYS: it never blocks Redis)."""
        base = self.prefix + "throttle:"
        pattern = base + "".join("\\" + ch if ch in "*?[]\\" else ch for ch in prefix) + "*"
        found = []
        for name in self.client.scan_iter(match=pattern, count=500):
            name = name.decode() if isinstance(name, bytes) else name
            data = {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
                    for k, v in self.client.hgetall(name).items()}
            if not data:  # expired meanwhile
                continue
            blocked = data.get("blocked_until") or ""
            found.append({"key": name[len(base):], "failures": int(data.get("failures") or 0),
                          "blocked_until": _EPOCH + timedelta(seconds=int(float(blocked))) if blocked else None})
            if len(found) >= limit:
                break
        return sorted(found, key=lambda row: row["key"])

    def hit(self, key: str, limit: int, window: int, now: datetime) -> bool:
        return self.add(key, 1, window, now) <= limit

    def add(self, key: str, amount: int, window: int, now: datetime, *, keep: int = 0) -> int:
        """As :meth:`SqlStore.add`: INCRBY, the key expiring ``keep`` seconds (and one) after its window."""
        seconds = _seconds(now)
        return int(self._add(keys=[self._bucket(key, window, seconds)],
                             args=[window - seconds % window + 1 + keep, amount]))

    def count(self, key: str, window: int, now: datetime) -> int:
        return int(self.client.get(self._bucket(key, window, _seconds(now))) or 0)

    def _bucket(self, key: str, window: int, seconds: int) -> str:
        return f"{self.prefix}rate:{key}:{window}:{seconds // window}"
