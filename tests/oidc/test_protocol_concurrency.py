"""A worker's protocol requests use a few database connections at a time (``IDP_PROTOCOL_CONCURRENCY``), however
many threads it has: its threads are sized for sign-ins waiting for a password check, its connections are not.
The turn comes with the connection, after the body is read: a client sending its body slowly holds none."""
import io
import threading
import time

from werkzeug.test import EnvironBuilder

from idp.oidc.store import connections
from tests.oidc.test_cors import _protocol


def test_connections_beyond_the_bound_wait_their_turn(make_app, monkeypatch):
    app = make_app(protocol_concurrency=2)
    protocol = _protocol(app)
    inside, most, lock = [0], [0], threading.Lock()
    take, give_back = connections.take, connections.give_back

    def counted_take(engine):
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        time.sleep(0.05)
        return take(engine)

    def counted_give_back(connection):
        with lock:
            inside[0] -= 1
        give_back(connection)

    monkeypatch.setattr(connections, "take", counted_take)
    monkeypatch.setattr(connections, "give_back", counted_give_back)
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


class SlowBody(io.RawIOBase):
    """A request body that arrives only when ``arrive`` is set."""

    def __init__(self, data: bytes, arrive: threading.Event):
        self.data, self.arrive = data, arrive

    def readable(self):
        return True

    def readinto(self, buffer):
        self.arrive.wait(10)
        chunk, self.data = self.data[:len(buffer)], self.data[len(buffer):]
        buffer[:len(chunk)] = chunk
        return len(chunk)


def test_a_client_sending_its_body_slowly_holds_no_turn(make_app):
    app = make_app(protocol_concurrency=1)
    protocol = _protocol(app)
    arrive, statuses = threading.Event(), []
    body = b"grant_type=client_credentials"
    slow = EnvironBuilder(path="/oauth/token", method="POST", content_type="application/x-www-form-urlencoded",
                          headers={"Content-Length": str(len(body))}).get_environ()
    slow["wsgi.input"] = io.BufferedReader(SlowBody(body, arrive))
    stuck = threading.Thread(target=lambda: protocol(slow, lambda status, headers: statuses.append(status)))
    stuck.start()
    time.sleep(0.1)  # it is reading its body now
    fast = EnvironBuilder(path="/oauth/userinfo", headers={"Authorization": "Bearer nothing"}).get_environ()
    answered = []
    quick = threading.Thread(target=lambda: protocol(fast, lambda status, headers: answered.append(status)))
    quick.start()
    quick.join(5)
    assert answered and answered[0].startswith("401")  # the only turn was free
    arrive.set()
    stuck.join(10)
    assert statuses and statuses[0].startswith("4")  # answered once its body came (no client credentials)
