"""Every throttling test runs twice: counters in the database, and counters in Redis.

Redis is ``IDP_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``); each test uses its own key
prefix, so a shared Redis is fine. Without a reachable Redis the Redis half is skipped, except under
``CI=true``, where it fails.
"""
import os
import uuid

import pytest

REDIS_URL = os.environ.get("IDP_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(params=["database", "redis"])
def app(request, make_app):
    if request.param == "database":
        return make_app()
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        message = f"Redis at {REDIS_URL} is not reachable ({exc}); set IDP_TEST_REDIS_URL"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    app = make_app(redis_url=REDIS_URL)
    app.extensions["idp"].throttler.store.prefix = f"idp-test:{uuid.uuid4().hex}:"
    return app
