"""A browser application on another origin, in Chromium: CORS (idp.oidc.protocol.cors) as a browser enforces it.

A static page served on its own loopback port (another origin than the provider's) is a public client
registered with ``idp clients create --public`` — its web origin derived from its redirect URI. Its own
JavaScript does the authorization code flow with PKCE S256: discovery by ``fetch``, the redirect to the
provider, the customer signs in on «Вход в личный кабинет», back on the page with the code, ``fetch`` to the
token endpoint (a form POST) and to UserInfo (``Authorization: Bearer``, so a preflight first), and the
page shows the customer's e-mail. The same page served on an origin nobody registered cannot read
discovery, the JWKS, the token endpoint, UserInfo or revocation: every ``fetch`` rejects (a CORS failure).
"""
from __future__ import annotations

import json
import logging

import pytest
from playwright.sync_api import Page, expect

from idp.clock import Clock
from tests.conftest import LiveServer

pytestmark = pytest.mark.browser

EMAIL = "spa@example.com"
PASSWORD = "Polis2026"

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Browser app</title></head>
<body>
<h1>Browser app</h1>
<button id="signin" type="button">Sign in with the provider</button>
<p id="status" role="status">signed out</p>
<script>
const PROVIDER = %(provider)s, CLIENT_ID = %(client_id)s, REDIRECT_URI = location.origin + "/";
const status = document.getElementById("status");

function b64url(bytes) {
  return btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
}

async function discover() {
  const response = await fetch(PROVIDER + "/.well-known/openid-configuration");
  return response.json();
}

async function signIn() {
  const verifier = b64url(crypto.getRandomValues(new Uint8Array(32)));
  const challenge = b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  const state = b64url(crypto.getRandomValues(new Uint8Array(16)));
  sessionStorage.setItem("login", JSON.stringify({verifier, state}));
  const metadata = await discover();
  location.assign(metadata.authorization_endpoint + "?" + new URLSearchParams({
    response_type: "code", client_id: CLIENT_ID, redirect_uri: REDIRECT_URI, scope: "openid email profile",
    state, code_challenge: challenge, code_challenge_method: "S256"}));
}

async function finish(params) {
  const {verifier, state} = JSON.parse(sessionStorage.getItem("login"));
  sessionStorage.removeItem("login");
  if (params.get("state") !== state) throw new Error("state does not match");
  history.replaceState(null, "", "/");
  const metadata = await discover();
  const tokenResponse = await fetch(metadata.token_endpoint, {
    method: "POST", headers: {"Content-Type": "application/x-www-form-urlencoded"},
    body: new URLSearchParams({grant_type: "authorization_code", code: params.get("code"),
                               redirect_uri: REDIRECT_URI, client_id: CLIENT_ID, code_verifier: verifier})});
  const token = await tokenResponse.json();
  if (!tokenResponse.ok) throw new Error("token endpoint: " + token.error);
  window.accessToken = token.access_token;
  const userinfo = await fetch(metadata.userinfo_endpoint, {headers: {Authorization: "Bearer " + token.access_token}});
  const claims = await userinfo.json();
  status.textContent = "signed in as " + claims.email;
}

document.getElementById("signin").addEventListener("click", () => signIn().catch(e => {
  status.textContent = "failed: " + e;
}));
const params = new URLSearchParams(location.search);
if (params.has("code")) finish(params).catch(e => { status.textContent = "failed: " + e; });
</script>
</body></html>
"""

#: Run in a page: each request's outcome, "status N" if the page could read the answer, else the rejection.
TRY_FETCHES = """async ([provider, clientId, token]) => {
  const attempt = async (url, init) => {
    try { const r = await fetch(url, init); return "status " + r.status; }
    catch (e) { return "rejected: " + e.name; }
  };
  return {
    discovery: await attempt(provider + "/.well-known/openid-configuration"),
    jwks: await attempt(provider + "/.well-known/jwks.json"),
    token: await attempt(provider + "/oauth/token", {method: "POST", body: new URLSearchParams({
      grant_type: "authorization_code", code: "x", redirect_uri: location.origin + "/", client_id: clientId,
      code_verifier: "y".repeat(43)})}),
    userinfo: await attempt(provider + "/oauth/userinfo", {headers: {Authorization: "Bearer " + token}}),
    revocation: await attempt(provider + "/oauth/revoke", {method: "POST", body: new URLSearchParams({
      token: token, client_id: clientId})}),
  };
}"""


@pytest.fixture
def clock():
    return Clock()  # the browser's own time: cookies and tokens by the wall clock


class StaticSite:
    """A one-page site on its own loopback port (its own origin)."""

    def __init__(self):
        self.server = LiveServer()
        self.url = self.server.url
        self.body = b""

    def __call__(self, environ, start_response):
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store"),
                                  ("Content-Length", str(len(self.body)))])
        return [self.body]

    def serve(self, provider: str, client_id: str) -> None:
        self.body = (PAGE % {"provider": json.dumps(provider), "client_id": json.dumps(client_id)}).encode()
        self.server.start(self)


@pytest.fixture
def sites():
    made = [StaticSite(), StaticSite()]
    yield made
    for site in made:
        site.server.stop()


def test_a_public_client_in_the_browser_signs_in_with_pkce_and_other_origins_cannot(
        browsers, live_server, run_cli, make_account, sites, shot, caplog):
    caplog.set_level(logging.INFO, logger="werkzeug")  # the provider's access log: which requests it got
    spa, stranger = sites
    make_account(email=EMAIL, password=PASSWORD, full_name="Анна Смирнова")
    created = run_cli("clients", "create", "--name", "Браузерное приложение", "--public", "--first-party",
                      "--redirect-uri", spa.url + "/", "--scope", "openid email profile", "--json")
    assert created.exit_code == 0, created.output
    registration = json.loads(created.stdout)
    client_id = registration["client_id"]
    assert registration["web_origins"] is None and registration["allowed_web_origins"] == [spa.url]
    spa.serve(live_server.url, client_id)
    stranger.serve(live_server.url, client_id)
    assert spa.url != stranger.url != live_server.url

    page: Page = browsers.new_page()
    page.goto(spa.url + "/")
    shot(page, "spa")
    page.get_by_role("button", name="Sign in with the provider").click()
    page.wait_for_url(live_server.url + "/login**")
    expect(page.get_by_role("heading", level=1, name="Вход в личный кабинет")).to_be_visible()
    page.get_by_label("Логин", exact=True).fill(EMAIL)
    page.get_by_label("Пароль", exact=True).fill(PASSWORD)
    shot(page, "provider-sign-in")
    page.get_by_role("button", name="Войти", exact=True).click()
    page.wait_for_url(spa.url + "/**")
    expect(page.get_by_role("status")).to_have_text(f"signed in as {EMAIL}")
    shot(page, "signed-in")
    assert page.url == spa.url + "/"
    assert page.watch.problems == []  # no CORS error, nothing else in the console
    # The browser asked (a preflight) before sending the Bearer header, and the provider allowed it.
    assert any("OPTIONS /oauth/userinfo HTTP/1.1" in r.getMessage() and r.getMessage().endswith('" 204 -')
               for r in caplog.records)
    token = page.evaluate("window.accessToken")
    assert token

    # From its own origin the page reads every answer, errors too (the code here is not a real one).
    own = page.evaluate(TRY_FETCHES, [live_server.url, client_id, token])
    assert own == {"discovery": "status 200", "jwks": "status 200", "token": "status 400",
                   "userinfo": "status 200", "revocation": "status 200"}, own

    # The same page on an origin nobody registered: every fetch rejects.
    other = browsers.new_page()
    other.goto(stranger.url + "/")
    outcome = other.evaluate(TRY_FETCHES, [live_server.url, client_id, token])
    assert outcome == {name: "rejected: TypeError" for name in outcome}, outcome
    assert any("CORS" in problem for problem in other.watch.problems), other.watch.problems
    # The sign-in button fails at discovery: nothing leaves the page for the provider.
    other.get_by_role("button", name="Sign in with the provider").click()
    expect(other.get_by_role("status")).to_have_text("failed: TypeError: Failed to fetch")
    assert other.url == stranger.url + "/"
    shot(other, "unregistered-origin")
