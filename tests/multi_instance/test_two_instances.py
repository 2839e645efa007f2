"""Two instances on one database act as one provider: a customer may hop between them at every step,
a code or a refresh token raced to both is spent once, throttling counts failures from both, and both
publish the same keys.
"""
from __future__ import annotations

import base64
import hashlib
import re
import secrets
import threading
import time
from html import unescape
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.conftest import Mailbox
from tests.http import codes
from tests.multi_instance.conftest import ISSUER, PASSWORD, REDIRECT_URI, Cluster, Instance

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ROUNDS = 5  # races per property: each is a fresh code or refresh token sent to both instances at once


class Browser:
    """One customer's browser (one cookie jar) that a load balancer may send to either instance."""

    def __init__(self):
        self.http = requests.Session()
        self.http.headers["Accept-Language"] = "ru"
        self.page: requests.Response | None = None

    def get(self, instance: Instance, path: str) -> requests.Response:
        self.page = self.http.get(urljoin(instance.url, path), allow_redirects=False, timeout=10)
        return self.page

    def open(self, instance: Instance, path: str) -> requests.Response:
        """GET and follow the instance's own redirects (never to the client's redirect URI)."""
        response = self.get(instance, path)
        while response.is_redirect and not response.headers["Location"].startswith(REDIRECT_URI):
            response = self.get(instance, response.headers["Location"])
        return response

    def submit(self, instance: Instance, path: str, data: dict) -> requests.Response:
        """POST a form with the CSRF token of the current page, whichever instance served that page."""
        token = unescape(_CSRF.search(self.page.text).group(1))
        self.page = self.http.post(urljoin(instance.url, path), data={"csrf_token": token, **data},
                                   allow_redirects=False, timeout=10)
        return self.page


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def authorization(cluster: Cluster, **extra) -> tuple[str, dict]:
    params = {"response_type": "code", "client_id": cluster.client_id, "redirect_uri": REDIRECT_URI,
              "scope": "openid email offline_access", "state": secrets.token_urlsafe(12),
              "nonce": secrets.token_urlsafe(12), "code_verifier": secrets.token_urlsafe(48)}
    query = {k: v for k, v in params.items() if k != "code_verifier"}
    query.update(code_challenge=s256(params["code_verifier"]), code_challenge_method="S256", **extra)
    return "/oauth/authorize?" + urlencode(query), params


def code_from(response: requests.Response, params: dict) -> str:
    assert response.status_code == 302, (response.status_code, response.text[:500])
    location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?"), location
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert query["state"] == params["state"] and query["iss"] == ISSUER, query
    assert "code" in query, query
    return query["code"]


def token_request(cluster: Cluster, instance: Instance, data: dict) -> requests.Response:
    # A new connection each time: every request is on its own, as from separate RP workers.
    return requests.post(instance.url + "/oauth/token", data=data,
                         auth=(cluster.client_id, cluster.client_secret), timeout=15)


def exchange(cluster: Cluster, instance: Instance, code: str, params: dict) -> requests.Response:
    return token_request(cluster, instance, {"grant_type": "authorization_code", "code": code,
                                             "redirect_uri": REDIRECT_URI,
                                             "code_verifier": params["code_verifier"]})


def refresh(cluster: Cluster, instance: Instance, refresh_token: str) -> requests.Response:
    return token_request(cluster, instance, {"grant_type": "refresh_token", "refresh_token": refresh_token})


def userinfo(instance: Instance, access_token: str) -> requests.Response:
    return requests.get(instance.url + "/oauth/userinfo", headers={"Authorization": f"Bearer {access_token}"},
                        timeout=10)


def id_token_claims(instance: Instance, id_token: str, cluster: Cluster) -> dict:
    keys = KeySet.import_key_set(requests.get(instance.url + "/.well-known/jwks.json", timeout=10).json())
    token = jwt.decode(id_token, keys, algorithms=["RS256"])
    claims = token.claims
    assert claims["iss"] == ISSUER and claims["aud"] == cluster.client_id and claims["exp"] > time.time()
    return claims


def at_once(*calls):
    """Run the calls in threads released together by a barrier; their results in the same order."""
    barrier, results = threading.Barrier(len(calls)), [None] * len(calls)

    def run(n, call):
        barrier.wait()
        try:
            results[n] = call()
        except Exception as exc:  # kept and re-raised below, in the test's thread
            results[n] = exc

    threads = [threading.Thread(target=run, args=(n, call)) for n, call in enumerate(calls)]
    [t.start() for t in threads]
    [t.join(timeout=30) for t in threads]
    for result in results:
        if isinstance(result, Exception):
            raise result
    return results


@pytest.fixture
def signed_in(cluster) -> Browser:
    """customer@example.com signed in on instance A, afresh for each test: presenting a spent refresh token
    ends the provider session it came from."""
    return sign_in(cluster)


def sign_in(cluster) -> Browser:
    """A new browser with customer@example.com signed in on instance A."""
    browser = Browser()
    assert "Вход в личный кабинет" in browser.open(cluster.a, "/login").text
    response = browser.submit(cluster.a, "/login", {"login": "customer@example.com", "password": PASSWORD,
                                                    "action": "signin"})
    assert response.status_code == 302, codes(response.text)
    return browser


def fresh_code(cluster: Cluster, browser: Browser, instance: Instance) -> tuple[str, dict]:
    path, params = authorization(cluster, prompt="none")
    return code_from(browser.get(instance, path), params), params


# -- (a) one journey, hopping between the instances ---------------------------------------------------------


def test_a_customer_may_hop_between_instances_at_every_step(cluster):
    a, b = cluster.a, cluster.b
    browser = Browser()
    path, params = authorization(cluster)
    page = browser.open(a, path)  # the portal sends the customer to A: the sign-in page
    assert "Вход в личный кабинет" in page.text

    page = browser.submit(a, "/login", {"login": "first@example.com", "password": "", "action": "forgot"})
    assert codes(page.text) == ["reset.sent_email"]
    temporary = Mailbox(cluster.mailbox_path).temporary_password("first@example.com")

    # The temporary password issued by A signs in on B; B sends the customer to the change page.
    response = browser.submit(b, "/login", {"login": "first@example.com", "password": temporary,
                                            "action": "signin"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/password/change")
    assert "Изменение пароля" in browser.get(b, "/password/change").text
    # The change page served by B is submitted to A.
    response = browser.submit(a, "/password/change", {"temporary": temporary, "new": "Polis2027",
                                                      "confirm": "Polis2027"})
    assert response.status_code == 302, codes(response.text)
    page = browser.open(b, response.headers["Location"])
    assert "password.changed" in codes(page.text)

    # Signed in on B with the new password: back to the authorization request, answered by A.
    response = browser.submit(b, "/login", {"login": "first@example.com", "password": "Polis2027",
                                            "action": "signin"})
    assert response.status_code == 302 and "/oauth/authorize?" in response.headers["Location"]
    code = code_from(browser.get(a, response.headers["Location"]), params)

    # The code issued by A is exchanged at B; the tokens work at both.
    token = exchange(cluster, b, code, params)
    assert token.status_code == 200, token.text
    token = token.json()
    claims = id_token_claims(a, token["id_token"], cluster)
    assert claims["nonce"] == params["nonce"]
    assert id_token_claims(b, token["id_token"], cluster) == claims
    for instance in (a, b):
        info = userinfo(instance, token["access_token"])
        assert info.status_code == 200 and info.json()["email"] == "first@example.com"
        assert info.json()["sub"] == claims["sub"]

    renewed = refresh(cluster, a, token["refresh_token"])
    assert renewed.status_code == 200, renewed.text
    assert userinfo(b, renewed.json()["access_token"]).json()["sub"] == claims["sub"]
    # The session cookie made on B is good on A: a silent request there gets a code at once.
    silent_path, silent = authorization(cluster, prompt="none")
    assert exchange(cluster, b, code_from(browser.get(a, silent_path), silent), silent).status_code == 200


# -- (b) and (c) races: one artefact, two instances, one winner ----------------------------------------------


def test_a_code_sent_to_both_instances_at_once_is_exchanged_once(cluster, signed_in):
    for n in range(ROUNDS):
        code, params = fresh_code(cluster, signed_in, cluster.instances[n % 2])
        results = at_once(lambda: exchange(cluster, cluster.a, code, params),
                          lambda: exchange(cluster, cluster.b, code, params))
        statuses = sorted(r.status_code for r in results)
        assert statuses == [200, 400], [(r.status_code, r.text) for r in results]
        winner = next(r for r in results if r.status_code == 200).json()
        loser = next(r for r in results if r.status_code == 400).json()
        assert loser["error"] == "invalid_grant" and "access_token" not in loser
        assert winner["access_token"] and winner["id_token"]
        # The replay is noticed (RFC 6749 §4.1.2): what the code gave is revoked, on both instances.
        for instance in cluster.instances:
            assert userinfo(instance, winner["access_token"]).status_code == 401


def test_a_refresh_token_sent_to_both_instances_at_once_is_used_once(cluster):
    for n in range(ROUNDS):
        # The loser presents a spent refresh token: reuse ends the provider session it came from (and tells
        # the relying parties, back-channel logout), so each round signs in afresh.
        code, params = fresh_code(cluster, sign_in(cluster), cluster.instances[n % 2])
        first = exchange(cluster, cluster.instances[(n + 1) % 2], code, params)
        assert first.status_code == 200, first.text
        refresh_token = first.json()["refresh_token"]
        results = at_once(lambda: refresh(cluster, cluster.a, refresh_token),
                          lambda: refresh(cluster, cluster.b, refresh_token))
        statuses = sorted(r.status_code for r in results)
        assert statuses == [200, 400], [(r.status_code, r.text) for r in results]
        loser = next(r for r in results if r.status_code == 400).json()
        assert loser["error"] == "invalid_grant" and "access_token" not in loser
        # A spent refresh token presented again gives nothing anywhere.
        for instance in cluster.instances:
            again = refresh(cluster, instance, refresh_token)
            assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


# -- (d) throttling counts on the shared store --------------------------------------------------------------


def test_failures_on_both_instances_count_together(cluster):
    browser = Browser()
    browser.open(cluster.a, "/login")
    attempts = [cluster.a] * 4 + [cluster.b]
    for instance in attempts:
        page = browser.submit(instance, "/login", {"login": "guarded@example.com", "password": "Wrong2026",
                                                   "action": "signin"})
        assert page.status_code == 200 and codes(page.text) == ["signin.invalid"]
    for instance in cluster.instances:  # the sixth attempt, right password or not, waits on either
        page = browser.submit(instance, "/login", {"login": "guarded@example.com", "password": PASSWORD,
                                                   "action": "signin"})
        assert (page.status_code, codes(page.text)) == (429, ["signin.throttled"]), instance.name
        assert 0 < int(page.headers["Retry-After"]) <= 30


# -- (e) one set of keys ----------------------------------------------------------------------------------


def test_both_instances_publish_the_same_keys_and_metadata(cluster):
    jwks = [requests.get(i.url + "/.well-known/jwks.json", timeout=10).json() for i in cluster.instances]
    assert jwks[0] == jwks[1] and jwks[0]["keys"] and all(k.get("kid") for k in jwks[0]["keys"])
    assert all("d" not in k for k in jwks[0]["keys"])  # public halves only
    metadata = [requests.get(i.url + "/.well-known/openid-configuration", timeout=10).json()
                for i in cluster.instances]
    assert metadata[0] == metadata[1] and metadata[0]["issuer"] == ISSUER
    assert metadata[0]["token_endpoint"] == ISSUER + "/oauth/token"
