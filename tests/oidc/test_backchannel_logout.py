"""OpenID Connect Back-Channel Logout 1.0: ``sid`` in ID tokens, discovery, and a logout token posted through
the outbox to every relying party of a provider session when it ends (signing out, RP-initiated logout, an
operator's block or sign-out everywhere, a reused refresh token, a password change). The relying parties' back-channel URIs are
a real loopback HTTP server that records each POST and answers what the test scripted."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode

import pytest
from joserfc import jwt
from sqlalchemy import select

from idp.extensions import db
from idp.oidc.models import unix
from tests.oidc.conftest import signed_in_code

EVENT = "http://schemas.openid.net/event/backchannel-logout"


class Receiver:
    """A loopback back-channel logout endpoint: records every POST and answers, per path, the statuses
    scripted in ``answers[path]`` in turn (then 200)."""

    def __init__(self):
        self.posts: list[dict] = []
        self.answers: dict[str, list[int]] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("ascii")
                receiver.posts.append({"path": self.path, "content_type": self.headers.get("Content-Type"),
                                       "form": {k: v[0] for k, v in parse_qs(body).items()}})
                scripted = receiver.answers.get(self.path)
                status = scripted.pop(0) if scripted else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def tokens(self, path: str | None = None) -> list[str]:
        return [post["form"]["logout_token"] for post in self.posts if path is None or post["path"] == path]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = Receiver()
    yield made
    made.stop()


def logout_claims(rp, token: str) -> dict:
    decoded = jwt.decode(token, rp.jwks(), algorithms=["RS256"])
    assert decoded.header["typ"] == "logout+jwt" and decoded.header["alg"] == "RS256"
    assert decoded.header["kid"]
    return dict(decoded.claims)


def sign_in(flow, rp, scope="openid profile offline_access"):
    request = rp.authorization(scope=scope)
    return rp.exchange(signed_in_code(flow, rp, request), request).json()


def session_sids(app) -> list[str]:
    from idp.sessions import BrowserSession

    with app.app_context():
        rows = db.session.execute(select(BrowserSession).order_by(BrowserSession.id)).scalars()
        return [row.sid for row in rows]


def deliveries(app, purpose="backchannel_logout"):
    from idp.delivery import Delivery

    with app.app_context():
        return [(row.recipient, row.status, row.attempts, row.last_error, row.payload is None)
                for row in db.session.execute(select(Delivery).where(Delivery.template == purpose)
                                              .order_by(Delivery.id)).scalars()]


def audited(app) -> list[tuple]:
    """``session.logout_queued`` events: (client_id, account id, via)."""
    from idp.audit import search

    with app.app_context():
        return [(e.client_id, e.account_id, e.details["via"]) for e in search(event="session.logout_queued")]


def test_discovery_advertises_back_channel_logout(rp):
    assert rp.metadata["backchannel_logout_supported"] is True
    assert rp.metadata["backchannel_logout_session_supported"] is True


def test_id_tokens_carry_the_session_id_also_after_a_refresh(app, rp, flow, customer, clock):
    tokens = sign_in(flow, rp)
    claims = rp.id_token_claims(tokens["id_token"], now=unix(clock.now()))
    [sid] = session_sids(app)
    assert claims["sid"] == sid and len(sid) >= 32 and not sid.isdigit()
    refreshed = rp.refresh(tokens["refresh_token"]).json()
    assert jwt.decode(refreshed["id_token"], rp.jwks()).claims["sid"] == sid
    # Another sign-in (another browser) is another session with its own sid.
    from tests.http import PageClient
    from tests.oidc.conftest import Flow

    other = sign_in(Flow(PageClient(flow.browser.base_url)), rp)
    assert jwt.decode(other["id_token"], rp.jwks()).claims["sid"] not in (None, sid)


def test_signing_out_posts_a_logout_token_to_each_relying_party_of_the_session(
        app, make_client, flow, customer, receiver, make_account, clock):
    first = make_client(first_party=True, backchannel_logout_uri=receiver.url + "/first")
    second = make_client(first_party=True, backchannel_logout_uri=receiver.url + "/second",
                         backchannel_logout_session_required=True)
    silent = make_client(first_party=True)  # no back-channel URI: nothing to post
    # Registered, but not in the session:
    make_client(first_party=True, backchannel_logout_uri=receiver.url + "/unused")
    for rp in (first, second, silent):
        sign_in(flow, rp)
    # Someone else's session with the same portal: not signed out, so nothing is posted for it.
    from tests.http import PageClient
    from tests.oidc.conftest import Flow

    make_account(email="other@example.com", phone="+79161234599", password="Polis2026")
    other_flow = Flow(PageClient(flow.browser.base_url))
    request = first.authorization()
    other_flow.start(request)
    callback = first.callback(other_flow.sign_in(login="other@example.com").url, request)
    first.exchange(callback["code"], request)
    assert receiver.posts == []

    flow.browser.get("/account")
    flow.browser.submit("/logout", {})

    assert sorted(post["path"] for post in receiver.posts) == ["/first", "/second"]
    assert all(post["content_type"] == "application/x-www-form-urlencoded" for post in receiver.posts)
    sid = session_sids(app)[0]
    for rp, path in ((first, "/first"), (second, "/second")):
        [token] = receiver.tokens(path)
        claims = logout_claims(rp, token)
        assert claims["iss"] == rp.issuer and claims["aud"] == rp.client_id
        assert claims["events"] == {EVENT: {}} and claims["sid"] == sid and claims["sub"] == customer.subject
        assert "nonce" not in claims and claims["jti"]
        # Short, but valid until after the outbox's last retry: 5 min + 30+60+120+240+480 s of backoff.
        assert claims["iat"] == unix(clock.now()) and claims["exp"] - claims["iat"] == 300 + 930
    assert len({logout_claims(first, t)["jti"] for t in receiver.tokens()}) == 2
    # Sent and forgotten: the sealed payload (the token) is erased once delivered.
    assert sorted((r, s, e) for r, s, _, e, _ in deliveries(app)) == sorted([(first.client_id, "sent", None),
                                                                            (second.client_id, "sent", None)])
    assert all(erased for *_, erased in deliveries(app))
    assert receiver.tokens("/unused") == []
    assert sorted(audited(app)) == sorted([(first.client_id, customer.id, "signout"),
                                           (second.client_id, customer.id, "signout")])


def test_rp_initiated_logout_tells_the_relying_parties(app, make_client, flow, customer, receiver):
    rp = make_client(first_party=True, backchannel_logout_uri=receiver.url + "/bc")
    tokens = sign_in(flow, rp)
    back = rp.redirect_uri.replace("/callback", "/signed-out")
    flow.browser.get(rp.metadata["end_session_endpoint"] + "?" + urlencode(
        {"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": back}))
    [token] = receiver.tokens("/bc")
    assert logout_claims(rp, token)["sid"] == session_sids(app)[0]


@pytest.mark.parametrize("action", ["block", "sign_out"])
def test_an_operator_ending_the_sessions_tells_every_relying_party_of_each(
        app, make_client, flow, customer, receiver, action):
    from idp.accounts import Account
    from idp.audit import Origin
    from idp.support import Operator, block, sign_out
    from tests.http import PageClient
    from tests.oidc.conftest import Flow

    rp = make_client(first_party=True, backchannel_logout_uri=receiver.url + "/bc")
    sign_in(flow, rp)
    sign_in(Flow(PageClient(flow.browser.base_url)), rp)  # the same customer in a second browser
    operator = Operator(login="agent@example.com", via="web", origin=Origin(ip="10.0.0.5"), account_id=None)
    with app.app_context():
        account = db.session.get(Account, customer.id)
        perform = {"block": block, "sign_out": sign_out}[action]
        perform(app.extensions["idp"], operator, account, reason="звонок")
    sids = sorted(logout_claims(rp, token)["sid"] for token in receiver.tokens("/bc"))
    assert sids == sorted(session_sids(app)) and len(sids) == 2
    assert audited(app) == [(rp.client_id, customer.id, action)] * 2


def test_a_reused_refresh_token_ends_its_session_and_queues_logout_tokens(
        app, make_client, flow, customer, receiver):
    from idp.delivery import Dispatcher

    rp = make_client(first_party=True, backchannel_logout_uri=receiver.url + "/bc")
    other = make_client(first_party=True, backchannel_logout_uri=receiver.url + "/other")
    tokens = sign_in(flow, rp)
    sign_in(flow, other)
    assert rp.refresh(tokens["refresh_token"]).status_code == 200
    assert rp.refresh(tokens["refresh_token"]).json()["error"] == "invalid_grant"  # reuse
    assert sorted(row[:2] for row in deliveries(app)) == sorted([(rp.client_id, "queued"),
                                                                 (other.client_id, "queued")])
    with app.app_context():
        Dispatcher(app.extensions["idp"]).run_due()
    assert sorted(post["path"] for post in receiver.posts) == ["/bc", "/other"]
    # The provider session is over: the browser must sign in again.
    assert "/login" in flow.browser.get("/account").url
    assert sorted(audited(app)) == sorted([(rp.client_id, customer.id, "refresh_reuse"),
                                           (other.client_id, customer.id, "refresh_reuse")])


def test_a_server_error_is_retried_and_a_refusal_is_dead_at_once(app, make_client, flow, customer, receiver,
                                                                  clock):
    from idp.delivery import Dispatcher

    retried = make_client(first_party=True, backchannel_logout_uri=receiver.url + "/retried")
    refused = make_client(first_party=True, backchannel_logout_uri=receiver.url + "/refused")
    sign_in(flow, retried)
    sign_in(flow, refused)
    receiver.answers = {"/retried": [500], "/refused": [400]}
    flow.browser.get("/account")
    flow.browser.submit("/logout", {})
    states = {row[0]: row for row in deliveries(app)}
    assert states[retried.client_id][1:3] == ("queued", 1) and "HTTP 500" in states[retried.client_id][3]
    assert states[refused.client_id][1] == "dead" and "HTTP 400" in states[refused.client_id][3]
    assert "refused for good" in states[refused.client_id][3]
    clock.advance(minutes=5)  # past the backoff
    with app.app_context():
        report = Dispatcher(app.extensions["idp"]).run_due()
    assert report.as_dict()["sent"] == 1
    states = {row[0]: row for row in deliveries(app)}
    assert states[retried.client_id][1:3] == ("sent", 2) and states[refused.client_id][1] == "dead"
    assert [post["path"] for post in receiver.posts].count("/retried") == 2
    # The same token both times (sealed in the outbox, not made again).
    assert len(set(receiver.tokens("/retried"))) == 1


def test_a_redirect_is_not_followed(app, make_client, flow, customer, receiver):
    rp = make_client(first_party=True, backchannel_logout_uri=receiver.url + "/moved")
    sign_in(flow, rp)
    receiver.answers = {"/moved": [302]}
    flow.browser.get("/account")
    flow.browser.submit("/logout", {})
    [(_, status, _, error, _)] = deliveries(app)
    assert status == "dead" and "redirect" in error and len(receiver.posts) == 1


@pytest.mark.parametrize("uri, code", [
    ("http://portal.example/bc", "client.backchannel_logout_uri.scheme"),
    ("https://portal.example/bc#x", "client.backchannel_logout_uri.fragment"),
    ("ftp://portal.example/bc", "client.backchannel_logout_uri.scheme"),
    ("https://user:pw@portal.example/bc", "client.backchannel_logout_uri.userinfo"),
])
def test_a_back_channel_uri_follows_the_redirect_uri_rules(app, run_cli, uri, code):
    result = run_cli("clients", "create", "--name", "Портал", "--redirect-uri", "https://portal.example/cb",
                     "--backchannel-logout-uri", uri, "--json")
    assert result.exit_code != 0 and code in result.output, result.output


def test_clients_register_and_change_their_back_channel_uri(app, run_cli):
    import json

    created = run_cli("clients", "create", "--name", "Портал", "--redirect-uri", "https://portal.example/cb",
                      "--backchannel-logout-uri", "https://portal.example/backchannel-logout",
                      "--backchannel-logout-session-required", "--json")
    assert created.exit_code == 0, created.output
    data = json.loads(created.output)
    assert data["backchannel_logout_uri"] == "https://portal.example/backchannel-logout"
    assert data["backchannel_logout_session_required"] is True
    changed = run_cli("clients", "update", data["client_id"],
                      "--backchannel-logout-uri", "http://127.0.0.1:8081/bc",
                      "--no-backchannel-logout-session-required", "--json")
    assert json.loads(changed.output)["backchannel_logout_uri"] == "http://127.0.0.1:8081/bc"
    assert json.loads(changed.output)["backchannel_logout_session_required"] is False
    cleared = run_cli("clients", "update", data["client_id"], "--backchannel-logout-uri", "", "--json")
    assert json.loads(cleared.output)["backchannel_logout_uri"] is None



def test_a_timeout_is_retried_not_dead(app, settings, make_client, flow, customer):
    """No answer within the read timeout: retried later like a 5xx (a logout token posted twice does no
    harm), not made a dead letter of unknown outcome as an e-mail would be."""
    from idp.delivery import build_courier
    from tests.delivery.loopback import SlowEndpoint

    silent = SlowEndpoint(answer_after=None)
    try:
        app.extensions["idp"].courier = build_courier(settings, read_timeout=1)  # the real courier, impatient
        rp = make_client(first_party=True, backchannel_logout_uri=silent.url + "/bc")
        sign_in(flow, rp)
        flow.browser.get("/account")
        flow.browser.submit("/logout", {})
        [(client_id, status, attempts, error, _)] = deliveries(app)
        assert (client_id, status, attempts) == (rp.client_id, "queued", 1) and "timed out" in error.lower()
        assert len(silent.requests()) == 1
    finally:
        silent.close()


def test_a_password_change_ends_the_sessions_and_tells_their_relying_parties(
        app, make_client, flow, customer, receiver, mailbox):
    """«Изменение пароля» ends every session of the account (someone may know the old password): each relying
    party of each of them gets a logout token, as the page passes the OpenID Connect layer's revocation in."""
    from idp.passwords.reset import request_temporary_password
    from tests.http import PageClient
    from tests.oidc.conftest import Flow

    rp = make_client(first_party=True, backchannel_logout_uri=receiver.url + "/bc")
    other = make_client(first_party=True)  # no back-channel URI: nothing to send it
    tokens = sign_in(flow, rp)
    sign_in(flow, other)
    with app.app_context():
        request_temporary_password("client@example.com", app.extensions["idp"])
    temporary = mailbox.temporary_password("client@example.com")
    page = PageClient(flow.browser.base_url)  # a second browser: the customer changing the password
    page.get("/login")
    assert "/password/change" in page.submit("/login", {"login": "client@example.com", "password": temporary}).url
    answer = page.submit("/password/change", {"temporary": temporary, "new": "Polis2027new",
                                              "confirm": "Polis2027new"})
    assert answer.url.endswith("/login")
    [token] = receiver.tokens("/bc")
    claims = logout_claims(rp, token)
    assert claims["sid"] == session_sids(app)[0] and claims["aud"] == rp.client_id
    assert audited(app) == [(rp.client_id, customer.id, "password_change")]
    assert "/login" in flow.browser.get("/account").url  # the first browser must sign in again
    assert rp.refresh(tokens["refresh_token"]).json()["error"] == "invalid_grant"
