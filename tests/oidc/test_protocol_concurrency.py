"""A worker's protocol requests run a few at a time (``IDP_PROTOCOL_CONCURRENCY``), however many threads it has:
its threads are sized for sign-ins waiting for a password check, its database connections are not."""
import threading
import time

from werkzeug.test import EnvironBuilder

from tests.oidc.test_cors import _protocol


def test_protocol_requests_beyond_the_bound_wait_their_turn(make_app):
    app = make_app(protocol_concurrency=2)
    protocol = _protocol(app)
    inside, most, lock = [0], [0], threading.Lock()
    respond = protocol.respond

    def counted(*args):
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        time.sleep(0.05)
        try:
            return respond(*args)
        finally:
            with lock:
                inside[0] -= 1

    protocol.respond = counted
    statuses = []

    def call():
        environ = EnvironBuilder(path="/oauth/userinfo", headers={"Authorization": "Bearer nothing"}).get_environ()
        protocol(environ, lambda status, headers: statuses.append(status))

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert most[0] == 2 and len(statuses) == 8 and {s.split()[0] for s in statuses} == {"401"}
