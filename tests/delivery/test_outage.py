"""An SES/SNS outage: intake and resets still succeed for the customer, and once the endpoint is back
every queued message is delivered exactly once — counted on the moto side.

The outage is real: boto3 talks to moto through a loopback relay that the test takes down (connections
refused) and brings back; nothing in boto3 or the transports is patched.
"""
from __future__ import annotations

import socket
import threading

import pytest
import requests

from idp.clients import create_client
from idp.delivery import Dispatcher
from idp.extensions import db
from tests.http import PageClient, codes
from tests.policies.conftest import policy_doc

pytestmark = pytest.mark.aws


class Relay:
    """A TCP relay on a fixed loopback port to ``target``; ``down()`` refuses connections, ``up()`` serves."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._listener: socket.socket | None = None

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed: the outage begins
            upstream = socket.create_connection(self.target)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


@pytest.fixture
def relay(moto_server, monkeypatch):
    host, port = moto_server.url.removeprefix("http://").split(":")
    relay = Relay((host, int(port)))
    monkeypatch.setenv("AWS_ENDPOINT_URL", relay.url)
    yield relay
    relay.down()


def test_outage_then_every_message_exactly_once(make_app, http_server, relay, moto_server, clock):
    app = make_app(email_transport="ses", sms_transport="sns")  # built with boto3 pointed at the relay
    server = http_server.start(app)

    # The endpoint is down: the policy system reports a policy (its API, with its own token) and the
    # customer asks for a temporary password.
    with app.app_context():
        services = app.extensions["idp"]
        system = create_client(services.settings, name="Полисная система", scopes=["policies:write"],
                               grant_types=["client_credentials"], redirect_uris=[], now=services.clock.now())
        db.session.commit()
        credentials = (system.client.client_id, system.secret)
    token = requests.post(server.url + "/oauth/token", auth=credentials, timeout=10,
                          data={"grant_type": "client_credentials", "scope": "policies:write"}).json()
    intake = requests.post(server.url + "/api/v1/policies", json=policy_doc(), timeout=10,
                           headers={"Authorization": f"Bearer {token['access_token']}"})
    assert intake.status_code in (200, 201), intake.text
    assert intake.json()["result"] == "account_created"
    browser = PageClient(server.url)
    browser.get("/login")
    page = browser.submit("/login", {"login": "ivan@example.com", "password": "", "action": "forgot"})
    assert page.status_code == 200 and codes(page.text) == ["reset.delayed"]
    assert moto_server.emails() == [] and moto_server.sms() == []

    # The endpoint is back; the dispatcher runs twice, as a worker would.
    relay.up()
    clock.advance(hours=1)
    with app.app_context():
        first = Dispatcher(app.extensions["idp"]).run_due()
        clock.advance(hours=2)
        second = Dispatcher(app.extensions["idp"]).run_due()
    assert first.as_dict() == {"sent": 3, "retrying": 0, "dead": 0}
    assert second.as_dict() == {"sent": 0, "retrying": 0, "dead": 0}

    emails, sms = moto_server.emails("ivan@example.com"), moto_server.sms("+79161234567")
    assert len(emails) == 2 and len(sms) == 1  # welcome e-mail, temporary password, welcome SMS: once each
    assert "Мы зарегистрировали Вас в Личном кабинете" in sms[0].message
    temporary = next(e for e in emails if "Временный пароль - " in e.text)
    password = temporary.text.split("Временный пароль - ")[1][:8]

    # The password that arrived late is the one that works.
    browser.get("/login")
    page = browser.submit("/login", {"login": "ivan@example.com", "password": password, "action": "signin"})
    assert page.url.endswith("/password/change")
