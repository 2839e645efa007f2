"""The protocol API answers as Authlib's stock grants and endpoints do: the oracle, tests/oidc/oracle.py.

Every case is sent twice on the same database state: to the implementation (``/oauth/token``,
``/oauth/userinfo``, ``/oauth/introspect``, ``/oauth/revoke`` of the provider's application) and, after the
tables either side may write (tokens, codes, audit events) are put back as they were, to the oracle
(``/oracle/…``, an application of its own on the same database). Compared:

* the answer: HTTP status, ``error``, the challenge's scheme and ``error`` attribute, ``Cache-Control``, and
  the whole success body — new token values by their shape (each side must have stored the hash of the
  values it returned), an ID token by its header and claims once its signature is verified and its
  ``at_hash`` checked against the access token beside it;
* what was written: every token row changed or added (hashes by the names of their values, client, customer,
  family and code by name, every timestamp as written under the frozen clock), every code's spend, and every
  audit event (name, time, customer, client, address, user agent, details).

Where the implementation deliberately answers otherwise, :data:`DIFFERENCES` names the case, what each side
answers and why; such a case must still differ exactly so (a stale entry fails), and when both sides refuse,
they must have written the same (nothing, or the same alarm). :data:`KNOWN_BUGS` are cases the
implementation gets wrong, expected to fail until fixed. Every case also states the status the provider's
rules give (``expect``): the oracle must answer it, so that both agreeing on a mistake is caught too.

Runs on SQLite, and on PostgreSQL with IDP_TEST_DATABASE_URL.
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from urllib.parse import quote

import pytest
from authlib.oidc.core.util import create_half_hash
from joserfc import jwt
from sqlalchemy import delete, insert, select
from werkzeug.datastructures import MultiDict

from idp.audit import AuditEvent
from idp.extensions import db
from idp.oidc.models import AuthorizationCode, OAuthToken, token_hash
from tests.oidc import oracle as oracle_module

USER_AGENT = "oracle-test/1.0"
REDIRECT = "https://rp.example/cb"
FULL = "openid offline_access profile email phone"
VERIFIER = "v" * 20 + "-._~" + "A1b2C3d4E5f6G7h8I9j0K"  # 45 characters of RFC 7636 §4.1's alphabet
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()
ALL_SCOPES = ["openid", "profile", "email", "phone", "offline_access", "policies", "bench.api"]


# -- the world: accounts, clients, tokens and codes, the same for both sides of every case -------------------

CLIENTS = {  # client_id "<name>-client"
    "rp": {},
    "other": {},
    "off": {},  # disabled
    "public": {"public": True, "grant_types": ["authorization_code", "refresh_token"]},
    "nocc": {"scopes": ["openid", "offline_access", "bench.api"], "grant_types": ["authorization_code"]},
    "legacy": {"pkce_required": False},  # a confidential client an admin let go without PKCE
}


def _token_specs(now: datetime) -> list[dict]:
    """Token rows by name: access token ``a-<name>``, refresh token ``r-<name>``, family ``f-<name>``."""
    hour_ago = dict(issued_at=now - timedelta(hours=1), access_expires_at=now - timedelta(minutes=55),
                    auth_time=now - timedelta(hours=1), amr="pwd otp", scope=FULL,
                    refresh_expires_at=now + timedelta(days=29))
    machine = dict(account=None, scope="bench.api", grant_type="client_credentials", refresh=False,
                   family=None, auth_time=None, amr=None)
    return [
        # UserInfo, introspection, revocation
        dict(name="full"), dict(name="openid", scope="openid"), dict(name="noopenid", scope="profile email"),
        dict(name="machine", **machine), dict(name="expired", access_expires_at=now - timedelta(seconds=1)),
        dict(name="at-now", access_expires_at=now), dict(name="access-revoked", access_revoked_at=now),
        dict(name="revoked", revoked_at=now), dict(name="refresh-used", refresh_used_at=now),
        dict(name="other", client="other"), dict(name="off", client="off"), dict(name="gone", account="gone"),
        dict(name="bare", account="bare"), dict(name="policies", scope="openid policies"),
        dict(name="unset", account="unset"),
        dict(name="full-sibling", family="f-full", refresh_used_at=now - timedelta(minutes=10)),
        # the refresh grant
        dict(name="rf-full", **hour_ago),
        dict(name="rf-noopenid", **{**hour_ago, "scope": "offline_access profile"}),
        dict(name="rf-public", client="public", **hour_ago),
        dict(name="rf-other", client="other", **hour_ago),
        dict(name="rf-off", client="off", **hour_ago),
        dict(name="rf-nocc", client="nocc", **{**hour_ago, "scope": "openid offline_access"}),
        dict(name="rf-used", refresh_used_at=now - timedelta(minutes=1), **hour_ago),
        dict(name="rf-used-next", family="f-rf-used", **hour_ago),  # its successor
        dict(name="rf-revoked", revoked_at=now - timedelta(minutes=1), **hour_ago),
        dict(name="rf-expired", **{**hour_ago, "refresh_expires_at": now}),
        dict(name="rf-unset", account="unset", **hour_ago), dict(name="rf-gone", account="gone", **hour_ago),
        dict(name="rf-policies", **{**hour_ago, "scope": "openid offline_access policies"}),
        # what the spent code c-used gave
        dict(name="from-used", code="c-used", **hour_ago),
    ]


def _code_specs(now: datetime) -> list[dict]:
    """Codes by name (the value is ``c-<name>``), each for REDIRECT with an S256 challenge unless said."""
    return [
        dict(name="pkce"), dict(name="plain", challenge=None), dict(name="nonce", nonce="n-0S6_WzA2Mj"),
        dict(name="noopenid", scope="profile offline_access"),
        dict(name="nocc", client="nocc", scope="openid offline_access"),  # a client without the refresh grant
        dict(name="public", client="public"), dict(name="public-plain", client="public", challenge=None),
        dict(name="legacy-plain", client="legacy", challenge=None),
        dict(name="off", client="off"), dict(name="used", used_at=now - timedelta(seconds=1)),
        dict(name="expired", expires_at=now), dict(name="unset", account="unset"),
        dict(name="gone", account="gone"),
        dict(name="wide", scope="openid offline_access bench.api admin"),  # customer scopes only in tokens
        dict(name="policies", scope="openid policies"),
    ]


@dataclass
class World:
    """Names of what the world holds, and a copy of the tables the endpoints write."""

    clients: dict[str, tuple[str, str | None]]  # name → (client_id, secret)
    client_names: dict[int, str]  # primary key → name
    account_names: dict[int, str]
    token_names: dict[str, str]  # access or refresh hash → "a-<name>" / "r-<name>"
    code_names: dict[int, str]  # code id → "c-<name>"
    families: set[str]
    last_event_id: int
    saved: dict[str, list[dict]] = field(default_factory=dict)
    #: The world's token rows (:func:`_token_row`) by access token name, and its codes' spends by name:
    #: an observation lists what differs from these.
    baseline: dict[str, dict] = field(default_factory=dict)
    code_baseline: dict[str, datetime | None] = field(default_factory=dict)


WRITTEN_TABLES = (OAuthToken.__table__, AuthorizationCode.__table__, AuditEvent.__table__)


def build_world(app) -> World:
    from idp.accounts import create_account
    from idp.clients import create_client
    from idp.policies.models import ATTACHED, Policy

    services = app.extensions["idp"]
    now = services.clock.now()
    with app.app_context():
        accounts = {}
        for name, fields in {"customer": dict(email="oracle@example.com", phone="+79161234567",
                                              full_name="Анна Иванова"),
                             "bare": dict(email="bare@example.com"), "gone": dict(email="gone@example.com"),
                             "unset": dict(email="unset@example.com")}.items():
            account = create_account(now=now, **fields)
            if name != "unset":  # "unset" must set a password before it may receive tokens
                account.password_hash = services.hasher.hash("Polis2026")
            accounts[name] = account
        accounts["customer"].email_verified = True
        accounts["gone"].disabled_at = now
        clients = {}
        for name, fields in CLIENTS.items():
            clients[name] = create_client(services.settings, name=f"Oracle {name}",
                                          client_id=f"{name}-client", redirect_uris=[REDIRECT], now=now,
                                          **{"scopes": ALL_SCOPES, **fields})
        clients["off"].client.disabled_at = now
        db.session.add(Policy(number="P-0001", kind="individual", product="dms", status="active",
                              start_date=date(2026, 1, 1), end_date=date(2026, 12, 31),
                              full_name="Анна Иванова", birth_date=date(1990, 5, 17), fingerprint="0" * 64,
                              state=ATTACHED, notes=[], account_id=accounts["customer"].id, source="api",
                              received_at=now, updated_at=now))
        db.session.flush()

        codes = {}
        for spec in _code_specs(now):
            challenge = spec.get("challenge", CHALLENGE)
            code = AuthorizationCode(
                code_hash=token_hash("c-" + spec["name"]),
                client_pk=clients[spec.get("client", "rp")].client.id,
                account_id=accounts[spec.get("account", "customer")].id, redirect_uri=REDIRECT,
                scope=spec.get("scope", FULL), nonce=spec.get("nonce"), code_challenge=challenge,
                code_challenge_method="S256" if challenge else None, auth_time=now - timedelta(seconds=20),
                amr="pwd", created_at=now - timedelta(seconds=5),
                expires_at=spec.get("expires_at", now + timedelta(seconds=55)), used_at=spec.get("used_at"))
            db.session.add(code)
            codes["c-" + spec["name"]] = code
        db.session.flush()

        token_names, families = {}, set()
        for spec in _token_specs(now):
            name, refresh, account = spec["name"], spec.get("refresh", True), spec.get("account", "customer")
            family = spec.get("family", "f-" + name)
            db.session.add(OAuthToken(
                access_token_hash=token_hash("a-" + name),
                refresh_token_hash=token_hash("r-" + name) if refresh else None,
                client_pk=clients[spec.get("client", "rp")].client.id,
                account_id=accounts[account].id if account else None,
                scope=spec.get("scope", "openid profile email phone"),
                grant_type=spec.get("grant_type", "authorization_code"), family_id=family,
                code_id=codes[spec["code"]].id if "code" in spec else None,
                issued_at=spec.get("issued_at", now - timedelta(seconds=30)),
                access_expires_at=spec.get("access_expires_at", now + timedelta(minutes=5)),
                refresh_expires_at=(spec.get("refresh_expires_at", now + timedelta(days=30))
                                    if refresh else None),
                auth_time=spec.get("auth_time", now - timedelta(seconds=60)), amr=spec.get("amr", "pwd"),
                access_revoked_at=spec.get("access_revoked_at"), revoked_at=spec.get("revoked_at"),
                refresh_used_at=spec.get("refresh_used_at")))
            token_names[token_hash("a-" + name)] = "a-" + name
            if refresh:
                token_names[token_hash("r-" + name)] = "r-" + name
            if family:
                families.add(family)
        db.session.commit()
        app.extensions["idp.keys"].signing_key()  # the development key made now, not in a compared request

        last_event = select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1)
        world = World(clients={name: (c.client.client_id, c.secret) for name, c in clients.items()},
                      client_names={c.client.id: name for name, c in clients.items()},
                      account_names={a.id: name for name, a in accounts.items()}, token_names=token_names,
                      code_names={c.id: name for name, c in codes.items()}, families=families,
                      last_event_id=db.session.execute(last_event).scalar() or 0)
        with db.engine.connect() as connection:
            world.saved = {t.name: [dict(r) for r in connection.execute(select(t)).mappings()]
                           for t in WRITTEN_TABLES}
    rows = [_token_row(r, world, world.token_names.get) for r in world.saved[OAuthToken.__tablename__]]
    world.baseline = {row["token"]: row for row in rows}
    world.code_baseline = {world.code_names[c["id"]]: c["used_at"]
                           for c in world.saved[AuthorizationCode.__tablename__]}
    return world


def restore(app, world: World) -> None:
    """The written tables as the world left them (row ids too)."""
    with app.app_context(), db.engine.begin() as connection:
        for table in WRITTEN_TABLES:
            connection.execute(delete(table))
            if world.saved[table.name]:
                connection.execute(insert(table), world.saved[table.name])


# -- cases ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    """One request: ``endpoint`` (token, userinfo, introspect, revoke), its form (pairs: a name may repeat),
    how the client authenticates (``auth``, see :func:`_authenticate`), the status the rules give."""

    endpoint: str
    form: tuple = ()
    auth: str | None = None
    expect: int = 200
    method: str = "POST"
    query: str = ""
    as_json: bool = False
    authorization: str | None = None  # a raw Authorization header (UserInfo)


def _basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{quote(client_id)}:{quote(secret)}".encode()).decode()


def _authenticate(world: World, auth: str | None) -> tuple[dict, list]:
    """Headers and form fields for ``auth``: ``basic:<client>`` (a public client's secret is "x"),
    ``post:<client>``, ``none:<client>`` (client_id alone), ``wrong-secret``, ``unknown-client``,
    ``no-colon``, ``bad-base64``, ``empty-secret``, ``bearer`` (a bearer token instead),
    ``basic+secret`` (Basic and client_secret in the form), ``basic+other-id`` (Basic as rp, the form's
    client_id another's)."""
    if auth is None:
        return {}, []
    kind, _, who = auth.partition(":")
    client_id, secret = world.clients.get(who or "rp")
    rp_id, rp_secret = world.clients["rp"]
    headers = {
        "basic": lambda: _basic(client_id, secret or "x"),
        "wrong-secret": lambda: _basic(rp_id, rp_secret + "x"),
        "unknown-client": lambda: _basic("nobody", rp_secret),
        "no-colon": lambda: "Basic " + base64.b64encode(rp_id.encode()).decode(),
        "bad-base64": lambda: "Basic !!!",
        "empty-secret": lambda: _basic(rp_id, ""),
        "bearer": lambda: "Bearer a-full",
        "basic+secret": lambda: _basic(rp_id, rp_secret),
        "basic+other-id": lambda: _basic(rp_id, rp_secret),
    }
    form = {"post": [("client_id", client_id), ("client_secret", secret or "x")],
            "none": [("client_id", client_id)], "basic+secret": [("client_secret", rp_secret)],
            "basic+other-id": [("client_id", world.clients["other"][0])]}.get(kind, [])
    return ({"Authorization": headers[kind]()} if kind in headers else {}), form


CASES: dict[str, Case] = {}


def case(name: str, endpoint: str, form=(), **fields) -> None:
    assert name not in CASES, name
    CASES[name] = Case(endpoint, tuple(form.items()) if isinstance(form, dict) else tuple(form), **fields)


# UserInfo (OIDC Core §5.3): the bearer token in the header, GET and POST, or in a form body (RFC 6750 §2).
USERINFO_HEADERS = [
    ("full", "Bearer a-full", 200), ("openid", "Bearer a-openid", 200), ("lowercase", "bearer a-full", 200),
    ("spaces", "BEARER   a-full  ", 200), ("noopenid", "Bearer a-noopenid", 403),
    ("machine", "Bearer a-machine", 403), ("expired", "Bearer a-expired", 401),
    ("at-now", "Bearer a-at-now", 401),
    ("access-revoked", "Bearer a-access-revoked", 401), ("revoked", "Bearer a-revoked", 401),
    ("refresh-used", "Bearer a-refresh-used", 200), ("other", "Bearer a-other", 200),
    ("off-client", "Bearer a-off", 401), ("gone-account", "Bearer a-gone", 401),
    ("refresh-token", "Bearer r-full", 401), ("unknown", "Bearer unknown", 401),
    ("long", "Bearer " + "x" * 600, 401), ("scheme-only", "Bearer", 401),
    ("basic-scheme", "Basic a-full", 401),
    ("none", None, 401), ("nul", "Bearer a-full\x00", 401), ("bare", "Bearer a-bare", 200),
    ("policies", "Bearer a-policies", 200),
]
for _method in ("GET", "POST"):
    for _name, _header, _status in USERINFO_HEADERS:
        case(f"userinfo-{_method.lower()}-{_name}", "userinfo", method=_method, authorization=_header,
             expect=_status)
case("userinfo-body", "userinfo", {"access_token": "a-full"})
case("userinfo-body-policies", "userinfo", {"access_token": "a-policies"})
case("userinfo-body-expired", "userinfo", {"access_token": "a-expired"}, expect=401)
case("userinfo-body-empty", "userinfo", {"access_token": ""}, expect=401)
case("userinfo-body-and-header", "userinfo", {"access_token": "a-full"}, authorization="Bearer a-full")
case("userinfo-form-body", "userinfo", {"claims": "x"}, authorization="Bearer a-full")
case("userinfo-json-body", "userinfo", {"claims": "x"}, authorization="Bearer a-full", as_json=True)
case("userinfo-unset", "userinfo", authorization="Bearer a-unset")

# Introspection (RFC 7662): confidential clients, their own tokens.
INTROSPECTION = [
    ("access", "rp", {"token": "a-full"}, 200), ("refresh", "rp", {"token": "r-full"}, 200),
    ("refresh-hinted", "rp", {"token": "r-full", "token_type_hint": "refresh_token"}, 200),
    ("access-hinted-refresh", "rp", {"token": "a-full", "token_type_hint": "refresh_token"}, 200),
    ("access-hinted", "rp", {"token": "a-full", "token_type_hint": "access_token"}, 200),
    ("refresh-hinted-access", "rp", {"token": "r-full", "token_type_hint": "access_token"}, 200),
    ("hint-id-token", "rp", {"token": "a-full", "token_type_hint": "id_token"}, 401),
    ("hint-empty", "rp", {"token": "a-full", "token_type_hint": ""}, 200),
    ("missing-token", "rp", {}, 400), ("empty-token", "rp", {"token": ""}, 200),
    ("long-token", "rp", {"token": "x" * 600}, 200), ("machine", "rp", {"token": "a-machine"}, 200),
    ("openid", "rp", {"token": "a-openid"}, 200), ("expired", "rp", {"token": "a-expired"}, 200),
    ("at-now", "rp", {"token": "a-at-now"}, 200),
    ("access-revoked", "rp", {"token": "a-access-revoked"}, 200),
    ("access-revoked-refresh", "rp", {"token": "r-access-revoked"}, 200),
    ("revoked", "rp", {"token": "a-revoked"}, 200), ("refresh-used", "rp", {"token": "r-refresh-used"}, 200),
    ("refresh-used-access", "rp", {"token": "a-refresh-used"}, 200),
    ("refresh-expired", "rp", {"token": "r-rf-expired"}, 200),
    ("gone-account", "rp", {"token": "a-gone"}, 200),
    ("other-clients", "rp", {"token": "a-other"}, 200), ("other-own", "other", {"token": "a-other"}, 200),
    ("off-token", "rp", {"token": "a-off"}, 200), ("unknown", "rp", {"token": "unknown"}, 200),
    ("nul", "rp", {"token": "a-full\x00"}, 200), ("off-client", "off", {"token": "a-off"}, 401),
    ("public-client", "public", {"token": "a-full"}, 401),
]
for _name, _who, _form, _status in INTROSPECTION:
    case(f"introspect-{_name}", "introspect", _form, auth=f"basic:{_who}", expect=_status)
CLIENT_FAILURES = ["wrong-secret", "unknown-client", "no-colon", "bad-base64", "empty-secret", "bearer"]
for _auth in CLIENT_FAILURES:
    case(f"introspect-auth-{_auth}", "introspect", {"token": "a-full"}, auth=_auth, expect=401)
case("introspect-auth-post", "introspect", {"token": "a-full"}, auth="post:rp")
case("introspect-auth-none", "introspect", {"token": "a-full"}, expect=401)
case("introspect-auth-none-public", "introspect", {"token": "a-full"}, auth="none:public", expect=401)
case("introspect-auth-basic+secret", "introspect", {"token": "a-full"}, auth="basic+secret")

# The client credentials grant (RFC 6749 §4.4); the token endpoint's own refusals.
CC = {"grant_type": "client_credentials"}
case("cc", "token", CC, auth="basic:rp")
case("cc-scope", "token", {**CC, "scope": "bench.api"}, auth="basic:rp")
case("cc-scope-narrowed", "token", {**CC, "scope": "bench.api openid"}, auth="basic:rp")
case("cc-scope-empty", "token", {**CC, "scope": ""}, auth="basic:rp")
case("cc-scope-customer", "token", {**CC, "scope": "openid profile"}, auth="basic:rp", expect=400)
case("cc-scope-not-allowed", "token", {**CC, "scope": "admin"}, auth="basic:rp", expect=400)
case("cc-grant-type-twice", "token", [("grant_type", "client_credentials")] * 2, auth="basic:rp")
case("cc-scope-twice", "token", [*CC.items(), ("scope", "bench.api"), ("scope", "openid")], auth="basic:rp")
case("cc-extra-parameter", "token", {**CC, "audience": "x"}, auth="basic:rp")
case("cc-scope-in-query", "token", CC, auth="basic:rp", query="scope=openid", expect=400)
case("cc-grant-type-in-query", "token", {}, auth="basic:rp", query="grant_type=client_credentials")
case("cc-json", "token", CC, auth="basic:rp", as_json=True, expect=400)
case("cc-other", "token", CC, auth="basic:other")
case("cc-off", "token", CC, auth="basic:off", expect=401)
case("cc-public", "token", CC, auth="basic:public", expect=401)
case("cc-public-none", "token", CC, auth="none:public", expect=401)
case("cc-nocc", "token", CC, auth="basic:nocc", expect=400)
case("cc-post", "token", CC, auth="post:rp")
case("cc-post-empty-secret", "token", {**CC, "client_id": "rp-client", "client_secret": ""}, expect=401)
case("cc-none", "token", CC, expect=401)
case("cc-confidential-none", "token", CC, auth="none:rp", expect=401)
case("cc-basic+secret", "token", CC, auth="basic+secret")
case("cc-basic+other-id", "token", CC, auth="basic+other-id")
for _auth in CLIENT_FAILURES:
    case(f"cc-auth-{_auth}", "token", CC, auth=_auth, expect=401)
case("token-no-grant-type", "token", {"scope": "bench.api"}, auth="basic:rp", expect=400)
case("token-empty-body", "token", {}, auth="basic:rp", expect=400)
case("token-password-grant", "token", {"grant_type": "password", "username": "a", "password": "b"},
     auth="basic:rp", expect=400)
case("token-unknown-grant", "token", {"grant_type": "urn:x"}, auth="basic:rp", expect=400)

# The refresh token grant (RFC 6749 §6) with rotation and reuse detection (RFC 9700 §4.14.2).
REFRESH = [
    # name, token, who, form fields added or changed (None: left out), status
    ("full", "rf-full", "basic:rp", {}, 200),
    ("narrowed", "rf-full", "basic:rp", {"scope": "openid offline_access"}, 200),
    ("narrowed-no-refresh", "rf-full", "basic:rp", {"scope": "openid"}, 200),
    ("narrowed-no-openid", "rf-full", "basic:rp", {"scope": "profile offline_access"}, 200),
    ("scope-empty", "rf-full", "basic:rp", {"scope": ""}, 200),
    ("widened", "rf-full", "basic:rp", {"scope": "openid admin"}, 400),
    ("widened-policies", "rf-full", "basic:rp", {"scope": "openid policies"}, 400),
    ("noopenid", "rf-noopenid", "basic:rp", {}, 200),
    ("policies", "rf-policies", "basic:rp", {}, 200),
    ("extra-parameter", "rf-full", "basic:rp", {"audience": "x"}, 200),
    ("missing-token", "rf-full", "basic:rp", {"refresh_token": None}, 400),
    ("empty-token", "rf-full", "basic:rp", {"refresh_token": ""}, 400),
    ("unknown-token", "rf-full", "basic:rp", {"refresh_token": "nope"}, 400),
    ("access-token-as-refresh", "rf-full", "basic:rp", {"refresh_token": "a-full"}, 400),
    ("client-id-too", "rf-full", "basic:rp", {"client_id": "rp-client"}, 200),
    ("another-clients", "rf-full", "basic:other", {}, 400),
    ("other", "rf-other", "basic:other", {}, 200),
    ("off", "rf-off", "basic:off", {}, 401),
    ("nocc", "rf-nocc", "basic:nocc", {}, 400),
    ("used", "rf-used", "basic:rp", {}, 400),  # reuse: the family revoked, the alarm recorded
    ("used-next", "rf-used-next", "basic:rp", {}, 200),
    ("revoked", "rf-revoked", "basic:rp", {}, 400),
    ("expired", "rf-expired", "basic:rp", {}, 400),
    ("unset", "rf-unset", "basic:rp", {}, 400),
    ("gone", "rf-gone", "basic:rp", {}, 400),
    ("public", "rf-public", "none:public", {}, 200),
    ("public-basic", "rf-public", "basic:public", {}, 401),
    ("public-secret", "rf-public", "none:public", {"client_secret": "x"}, 401),
    ("post", "rf-full", "post:rp", {}, 200),
    ("post-empty-secret", "rf-full", None, {"client_id": "rp-client", "client_secret": ""}, 401),
    ("post-wrong-secret", "rf-full", None, {"client_id": "rp-client", "client_secret": "nope"}, 401),
    ("confidential-none", "rf-full", "none:rp", {}, 401),
    ("basic+secret", "rf-full", "basic+secret", {}, 200),
    ("basic+other-id", "rf-full", "basic+other-id", {}, 200),
    ("wrong-secret", "rf-full", "wrong-secret", {}, 401),
    ("no-client", "rf-full", None, {}, 401),
]
for _name, _token, _auth, _extra, _status in REFRESH:
    _form = {"grant_type": "refresh_token", "refresh_token": "r-" + _token, **_extra}
    case(f"refresh-{_name}", "token", {k: v for k, v in _form.items() if v is not None}, auth=_auth,
         expect=_status)
case("refresh-scope-twice", "token", [("grant_type", "refresh_token"), ("refresh_token", "r-rf-full"),
                                      ("scope", "openid"), ("scope", "profile")], auth="basic:rp")
case("refresh-scope-in-query", "token", {"grant_type": "refresh_token", "refresh_token": "r-rf-full"},
     auth="basic:rp", query="scope=openid")
case("refresh-json", "token", {"grant_type": "refresh_token", "refresh_token": "r-rf-full"}, auth="basic:rp",
     as_json=True, expect=400)

# The authorization code grant (RFC 6749 §4.1.3, OIDC Core §3.1.3) with PKCE (RFC 7636, S256 only).
CODE = [
    # name, code, who, form fields changed (None: left out), status
    ("pkce", "pkce", "basic:rp", {}, 200),
    ("no-pkce", "legacy-plain", "basic:legacy", {"code_verifier": None}, 200),  # a client opted out of PKCE
    ("no-pkce-required", "plain", "basic:rp", {"code_verifier": None}, 200),  # the oracle; see DIFFERENCES
    ("verifier-without-challenge", "plain", "basic:rp", {}, 400),
    ("verifier-missing", "pkce", "basic:rp", {"code_verifier": None}, 400),
    ("verifier-wrong", "pkce", "basic:rp", {"code_verifier": VERIFIER[:-1] + "x"}, 400),
    ("verifier-short", "pkce", "basic:rp", {"code_verifier": "short"}, 400),
    ("verifier-bad-character", "pkce", "basic:rp", {"code_verifier": VERIFIER + "%"}, 400),
    ("redirect-uri-wrong", "pkce", "basic:rp", {"redirect_uri": "https://rp.example/other"}, 400),
    ("redirect-uri-missing", "pkce", "basic:rp", {"redirect_uri": None}, 400),
    ("missing", "pkce", "basic:rp", {"code": None}, 400),
    ("empty", "pkce", "basic:rp", {"code": ""}, 400),
    ("unknown", "pkce", "basic:rp", {"code": "c-nope"}, 400),
    ("extra-scope", "pkce", "basic:rp", {"scope": "openid"}, 200),  # a field the grant does not read
    ("another-clients", "pkce", "basic:other", {}, 400),
    ("nonce", "nonce", "basic:rp", {}, 200),
    ("noopenid", "noopenid", "basic:rp", {}, 200),
    ("nocc", "nocc", "basic:nocc", {}, 200),  # no refresh token for a client without the grant
    ("nocc-client-credentials", "nocc", "basic:nocc", {"grant_type": "client_credentials"}, 400),
    ("wide", "wide", "basic:rp", {}, 200),
    ("policies", "policies", "basic:rp", {}, 200),
    ("public", "public", "none:public", {}, 200),
    ("public-no-pkce", "public-plain", "none:public", {"code_verifier": None}, 400),
    ("public-verifier-missing", "public", "none:public", {"code_verifier": None}, 400),
    ("public-basic", "public", "basic:public", {}, 401),
    ("public-no-client-id", "public", None, {}, 401),
    ("off", "off", "basic:off", {}, 401),
    ("replayed", "used", "basic:rp", {}, 400),  # the alarm: what the code gave revoked
    ("replayed-by-another", "used", "basic:other", {}, 400),
    ("expired", "expired", "basic:rp", {}, 400),
    ("unset", "unset", "basic:rp", {}, 400),
    ("gone", "gone", "basic:rp", {}, 400),
    ("post", "pkce", "post:rp", {}, 200),
    ("confidential-none", "pkce", "none:rp", {}, 401),
    ("wrong-secret", "pkce", "wrong-secret", {}, 401),
    ("basic+secret", "pkce", "basic+secret", {}, 200),
    ("no-client", "pkce", None, {}, 401),
]
for _name, _code, _auth, _changed, _status in CODE:
    _form = {"grant_type": "authorization_code", "code": "c-" + _code, "redirect_uri": REDIRECT,
             "code_verifier": VERIFIER, **_changed}
    case(f"code-{_name}", "token", {k: v for k, v in _form.items() if v is not None}, auth=_auth,
         expect=_status)
case("code-twice", "token", [("grant_type", "authorization_code"), ("code", "c-pkce"), ("code", "x"),
                             ("redirect_uri", REDIRECT), ("code_verifier", VERIFIER)], auth="basic:rp")
case("code-redirect-uri-in-query", "token",
     {"grant_type": "authorization_code", "code": "c-pkce", "code_verifier": VERIFIER}, auth="basic:rp",
     query="redirect_uri=" + quote(REDIRECT, safe=""))

# Revocation (RFC 7009): a refresh token revokes its grant, an access token itself.
REVOCATION = [
    ("access", "basic:rp", {"token": "a-full"}, 200),
    ("access-hinted", "basic:rp", {"token": "a-full", "token_type_hint": "access_token"}, 200),
    ("refresh", "basic:rp", {"token": "r-full", "token_type_hint": "refresh_token"}, 200),  # the family
    ("refresh-unhinted", "basic:rp", {"token": "r-full"}, 200),
    ("refresh-hinted-access", "basic:rp", {"token": "r-full", "token_type_hint": "access_token"}, 200),
    ("access-hinted-refresh", "basic:rp", {"token": "a-full", "token_type_hint": "refresh_token"}, 200),
    ("another-clients", "basic:rp", {"token": "a-other"}, 400),
    ("another-clients-refresh", "basic:rp", {"token": "r-other"}, 400),
    ("unknown", "basic:rp", {"token": "nope"}, 200),
    ("missing-token", "basic:rp", {}, 400),
    ("empty-token", "basic:rp", {"token": ""}, 200),
    ("hint-id-token", "basic:rp", {"token": "a-full", "token_type_hint": "id_token"}, 401),
    ("post", "post:rp", {"token": "r-full"}, 200),
    ("public", "none:public", {"token": "r-rf-public"}, 200),
    ("public-another-clients", "none:public", {"token": "a-full"}, 400),
    ("confidential-none", "none:rp", {"token": "a-full"}, 401),
    ("wrong-secret", "wrong-secret", {"token": "a-full"}, 401),
    ("off-client", "basic:off", {"token": "a-off"}, 401),
    ("no-client", None, {"token": "a-full"}, 401),
    ("machine", "basic:rp", {"token": "a-machine"}, 200),
    ("already-revoked", "basic:rp", {"token": "r-revoked"}, 200),
    ("gone-account", "basic:rp", {"token": "a-gone"}, 200),
    ("spent-refresh", "basic:rp", {"token": "r-rf-used"}, 200),
]
for _name, _auth, _form, _status in REVOCATION:
    case(f"revoke-{_name}", "revoke", _form, auth=_auth, expect=_status)


# -- where the implementation differs -----------------------------------------------------------------------

@dataclass(frozen=True)
class Difference:
    """What each side answers (the fields named, of :meth:`Observation.answer`) and why they differ."""

    implementation: dict
    oracle: dict
    reason: str


def _refused(error: str, status: int = 400) -> dict:
    return {"status": status, "error": error}


#: Where the implementation deliberately answers otherwise than Authlib's endpoints, case by case.
DIFFERENCES: dict[str, Difference] = {
    # The token endpoint reads form parameters, each once, from the body only (RFC 6749 §3.1, §3.2, §4.1.3).
    "token-no-grant-type": Difference(
        _refused("invalid_request"), _refused("unsupported_grant_type"),
        "a request without grant_type misses a required parameter: invalid_request (issue 21)"),
    "token-empty-body": Difference(
        _refused("invalid_request"), _refused("unsupported_grant_type"), "no grant_type: invalid_request"),
    "cc-json": Difference(
        _refused("invalid_request"), _refused("unsupported_grant_type"),
        "the body must be application/x-www-form-urlencoded (RFC 6749 §3.2); Authlib finds no grant_type"),
    "refresh-json": Difference(
        _refused("invalid_request"), _refused("unsupported_grant_type"), "as cc-json"),
    "cc-grant-type-twice": Difference(
        _refused("invalid_request"), {"status": 200},
        "RFC 6749 §3.1: parameters MUST NOT be included more than once; Authlib reads the first"),
    "cc-scope-twice": Difference(_refused("invalid_request"), {"status": 200}, "a repeated parameter"),
    "refresh-scope-twice": Difference(_refused("invalid_request"), {"status": 200}, "a repeated parameter"),
    "code-twice": Difference(_refused("invalid_request"), {"status": 200}, "a repeated parameter"),
    "code-no-pkce-required": Difference(
        _refused("invalid_request"), {"status": 200},
        "PKCE is required of confidential clients too unless an admin opted the client out (RFC 9700 §2.1.1; "
        "issue 22): a code issued without a challenge is refused; Authlib requires it of public clients only"),
    "cc-scope-in-query": Difference(
        {"status": 200, "scope": "bench.api"}, _refused("invalid_scope"),
        "parameters come from the form body only (RFC 6749 §3.2); Authlib reads the query string too"),
    "cc-grant-type-in-query": Difference(
        _refused("invalid_request"), {"status": 200}, "parameters from the body only: no grant_type there"),
    "refresh-scope-in-query": Difference(
        {"status": 200, "scope": FULL}, {"status": 200, "scope": "openid"},
        "parameters from the body only: the query's scope is not read"),
    "code-redirect-uri-in-query": Difference(
        _refused("invalid_grant"), {"status": 200},
        "parameters from the body only: the query's redirect_uri is not read"),
    # RFC 6749 §3.1: "Parameters sent without a value MUST be treated as if they were omitted".
    "refresh-empty-token": Difference(
        _refused("invalid_request"), _refused("invalid_grant"), "an empty refresh_token is a missing one"),
    "code-empty": Difference(
        _refused("invalid_request"), _refused("invalid_grant"), "an empty code is a missing one"),
    "introspect-empty-token": Difference(
        _refused("invalid_request"), {"status": 200, "active": False},
        "an empty token is a missing one, and token is required (RFC 7662 §2.1)"),
    "revoke-empty-token": Difference(
        _refused("invalid_request"), {"status": 200},
        "an empty token is a missing one, and token is required (RFC 7009 §2.1)"),
    # A NUL character in a form value.
    "introspect-nul": Difference(
        _refused("invalid_request"), {"status": 200, "active": False},
        "a form value with a NUL character is malformed and refused (PostgreSQL text cannot hold one)"),
    # One client authentication method per request (RFC 6749 §2.3).
    "introspect-auth-basic+secret": Difference(
        _refused("invalid_client", 401), {"status": 200},
        "Basic and client_secret in the form: RFC 6749 §2.3, a client MUST NOT use more than one method"),
    "cc-basic+secret": Difference(_refused("invalid_client", 401), {"status": 200}, "two methods (§2.3)"),
    "refresh-basic+secret": Difference(
        _refused("invalid_client", 401), {"status": 200}, "two methods (§2.3)"),
    "code-basic+secret": Difference(_refused("invalid_client", 401), {"status": 200}, "two methods (§2.3)"),
    "cc-basic+other-id": Difference(
        _refused("invalid_client", 401), {"status": 200},
        "a form client_id contradicting the Basic credentials is refused; Authlib ignores it"),
    "refresh-basic+other-id": Difference(
        _refused("invalid_client", 401), {"status": 200}, "as cc-basic+other-id"),
    # unsupported_token_type is an error response of RFC 6749 §5.2 (RFC 7009 §2.2.1): 400.
    "introspect-hint-id-token": Difference(
        _refused("unsupported_token_type"), _refused("unsupported_token_type", 401),
        "§5.2 errors are 400 but invalid_client; Authlib's UnsupportedTokenTypeError is a 401"),
    "revoke-hint-id-token": Difference(
        _refused("unsupported_token_type"), _refused("unsupported_token_type", 401),
        "as introspect-hint-id-token (RFC 7009 §2.2.1)"),
    # UserInfo: RFC 6750's ways of sending the token and its error codes and challenges.
    "userinfo-body-and-header": Difference(
        _refused("invalid_request"), {"status": 200},
        "RFC 6750 §2: a client MUST NOT use more than one method to send the token; Authlib reads the "
        "header"),
}
for _method in ("get", "post"):
    DIFFERENCES[f"userinfo-{_method}-basic-scheme"] = Difference(
        {**_refused("invalid_token", 401), "challenge": ("Bearer", None)},
        {**_refused("unsupported_token_type", 401), "challenge": ("Bearer", "unsupported_token_type")},
        "another scheme is no bearer token at all: a bare challenge (RFC 6750 §3.1); unsupported_token_type "
        "is no RFC 6750 error code")
    DIFFERENCES[f"userinfo-{_method}-scheme-only"] = Difference(
        {**_refused("invalid_token", 401), "challenge": ("Bearer", "invalid_token")},
        {**_refused("unsupported_token_type", 401), "challenge": ("Bearer", "unsupported_token_type")},
        "an empty bearer token is an invalid one (RFC 6750 §3.1)")
    for _name in ("noopenid", "machine"):
        DIFFERENCES[f"userinfo-{_method}-{_name}"] = Difference(
            {**_refused("insufficient_scope", 403), "challenge": ("Bearer", "insufficient_scope")},
            {**_refused("insufficient_scope", 403), "challenge": None},
            "an error of a resource request carries the Bearer challenge, with the scope needed (RFC 6750 "
            "§3, §3.1); Authlib's InsufficientScopeError has none")

#: Cases the implementation gets wrong (found by this test; reported, not fixed here): expected to fail,
#: strictly, so that a fix makes them fail until they are taken off this list.
KNOWN_BUGS: dict[str, str] = {}


def _parameters():
    for name in CASES:
        marks = [pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[name])] if name in KNOWN_BUGS else []
        yield pytest.param(name, marks=marks, id=name)


# -- sending and observing ----------------------------------------------------------------------------------

def send(test_client, prefix: str, one: Case, world: World):
    headers, form = _authenticate(world, one.auth)
    headers["User-Agent"] = USER_AGENT
    if one.authorization is not None:
        headers["Authorization"] = one.authorization
    pairs = list(one.form) + form
    path = f"{prefix}/{one.endpoint}" + (f"?{one.query}" if one.query else "")
    kwargs = {}
    if one.as_json:
        kwargs["json"] = dict(pairs)
    elif pairs:
        kwargs["data"] = MultiDict(pairs)
    return test_client.open(path, method=one.method, headers=headers, **kwargs)


def _challenge(response) -> tuple | None:
    """The ``WWW-Authenticate`` header's scheme and ``error`` attribute."""
    value = response.headers.get("WWW-Authenticate")
    if value is None:
        return None
    error = re.search(r'error="([^"]*)"', value)
    return value.split(" ", 1)[0], error.group(1) if error else None


def _id_token(value: str, access_token: str | None, keys) -> dict:
    """An ID token's header and claims, its signature verified and its ``at_hash`` checked, then left out."""
    decoded = jwt.decode(value, keys.public_keyset(), algorithms=["RS256"])
    claims = dict(decoded.claims)
    at_hash = claims.pop("at_hash", None)
    assert at_hash == (create_half_hash(access_token, "RS256").decode() if access_token else None)
    return {"header": dict(decoded.header), "claims": claims}


@dataclass
class Observation:
    status: int
    error: str | None
    challenge: tuple | None
    cache_control: str | None
    body: object  # a success's, normalised
    tokens: list  # token rows changed or added (:func:`_token_row`)
    codes: dict  # the codes whose spend changed: name → used_at
    events: list  # audit events written

    def answer(self) -> dict:
        """What the response said, for :data:`DIFFERENCES`."""
        answer = {"status": self.status, "error": self.error, "challenge": self.challenge}
        if isinstance(self.body, dict):
            answer.update((k, v) for k, v in self.body.items() if k in ("active", "scope"))
        return answer


def _token_row(row, world: World, named) -> dict:
    """A token row: its hashes by the names of their values (``named``), its client, customer, family and
    code by name (a new family as such), every other column as it is."""
    family = row["family_id"]
    return {
        "token": named(row["access_token_hash"]), "refresh": named(row["refresh_token_hash"]),
        "client": world.client_names.get(row["client_pk"]),
        "account": world.account_names.get(row["account_id"]),
        "scope": row["scope"], "grant_type": row["grant_type"],
        "family": family if family is None or family in world.families else "<new family>",
        "code": world.code_names.get(row["code_id"], row["code_id"]),
        **{k: row[k] for k in ("issued_at", "access_expires_at", "refresh_expires_at", "access_revoked_at",
                               "revoked_at", "refresh_used_at", "auth_time", "amr")},
        "new": row["access_token_hash"] not in world.token_names}


def observe(app, world: World, response) -> Observation:
    data = response.get_data()
    try:
        body = json.loads(data)
    except ValueError:
        body = data
    issued = {}
    if response.status_code == 200 and isinstance(body, dict):
        for name in ("access_token", "refresh_token"):
            if name in body:
                value = body[name]
                assert isinstance(value, str) and len(value) >= 43, body
                issued[token_hash(value)] = f"<issued {name}>"
                body[name] = "<value>"
        if "id_token" in body:
            body["id_token"] = _id_token(body["id_token"], json.loads(data).get("access_token"),
                                         app.extensions["idp.keys"])
    with app.app_context():
        rows = db.session.execute(select(OAuthToken.__table__).order_by(OAuthToken.id)).mappings().all()
        codes = db.session.execute(select(AuthorizationCode.__table__)).mappings().all()
        events = db.session.execute(select(AuditEvent.__table__).where(AuditEvent.id > world.last_event_id)
                                    .order_by(AuditEvent.id)).mappings().all()

    def named(value):
        if value is None:
            return None
        return world.token_names.get(value) or issued.get(value) or "<unknown hash>"

    tokens = [_token_row(row, world, named) for row in rows]
    tokens = [row for row in tokens if row["new"] or row != world.baseline[row["token"]]]
    assert all(row["token"] == "<issued access_token>" for row in tokens if row["new"]), tokens
    return Observation(
        status=response.status_code, error=body.get("error") if isinstance(body, dict) else None,
        challenge=_challenge(response), cache_control=response.headers.get("Cache-Control"),
        body=body if response.status_code == 200 else None, tokens=tokens,
        codes={world.code_names[c["id"]]: c["used_at"] for c in codes
               if c["used_at"] != world.code_baseline[world.code_names[c["id"]]]},
        events=[(e["event"], e["at"], world.account_names.get(e["account_id"]), e["client_id"], e["ip"],
                 e["user_agent"], e["details"]) for e in events])


# -- the tests ----------------------------------------------------------------------------------------------

class Sides:
    """The provider's application, the oracle over its database and the world both see: made once for a run
    of this module's tests (pytest sets a module's fixtures up again when it comes back to the module after
    another module's tests, which on PostgreSQL empty the database). Before each side of every case the
    written tables are put back (:func:`restore`), so one world serves every case; making it costs about
    twenty cases."""

    def __init__(self, folder):
        from idp.settings import Settings
        from tests.conftest import TEST_DATABASE_URL

        self.postgres = bool(TEST_DATABASE_URL)
        self.settings = Settings.from_env(
            environ={}, secret_key="oracle-secret-key-" + "x" * 32, instance_dir=str(folder / "instance"),
            database_url=TEST_DATABASE_URL or f"sqlite:///{folder / 'idp.sqlite3'}",
            keys_dir=str(folder / "keys"), bcrypt_rounds=4, issuer="http://127.0.0.1:8999")
        self.made = None

    def get(self):
        if self.made is None:
            self.made = self._make()
        app, _, world = self.made
        restore(app, world)
        return self.made

    def _make(self):
        from idp.app import create_app
        from idp.clock import FrozenClock
        from idp.schema import create_schema
        from tests.conftest import T0, empty_database

        app = create_app(self.settings, clock=FrozenClock(T0))
        app.config["TESTING"] = True
        with app.app_context():
            if self.postgres:
                empty_database()
            create_schema()
        world = build_world(app)
        return app, oracle_module.build_oracle(app), world

    def close(self):
        if self.made is None:
            return
        app, oracle, _ = self.made
        self.made = None
        oracle_module.dispose(oracle)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    made = Sides(tmp_path_factory.mktemp("oracle"))
    yield made
    made.close()


@pytest.fixture
def sides(shared):
    return shared.get()


def _written(observation: Observation) -> tuple:
    return observation.tokens, observation.codes, observation.events


@pytest.mark.parametrize("name", list(_parameters()))
def test_implementation_answers_as_the_oracle(sides, name):
    app, oracle, world = sides
    one = CASES[name]
    implementation = observe(app, world, send(app.test_client(), "/oauth", one, world))
    restore(app, world)
    expected = observe(app, world, send(oracle.test_client(), oracle_module.PREFIX, one, world))
    assert expected.status == one.expect, f"the oracle answered {expected.status}: {expected.body}"

    difference = DIFFERENCES.get(name)
    if difference is None:
        assert implementation == expected
        return
    for side, observed, stated in (("implementation", implementation, difference.implementation),
                                   ("oracle", expected, difference.oracle)):
        answer = observed.answer()
        assert {k: answer.get(k) for k in stated} == stated, f"{side}: {answer}"
    fields = difference.implementation
    assert ({k: implementation.answer().get(k) for k in fields}
            != {k: expected.answer().get(k) for k in fields}), "the difference is gone: take it off the list"
    if implementation.status >= 400 and expected.status >= 400:
        assert _written(implementation) == _written(expected)


def test_every_difference_and_known_bug_is_a_case():
    assert set(DIFFERENCES) <= set(CASES) and set(KNOWN_BUGS) <= set(CASES)
    assert not set(DIFFERENCES) & set(KNOWN_BUGS)


def test_the_oracle_keeps_the_rules_the_cases_rely_on(sides):
    """Some of the oracle's answers spelled out: the implementation agreeing with it agrees on these."""
    app, oracle, world = sides

    def oracle_answer(name):
        restore(app, world)
        return observe(app, world, send(oracle.test_client(), oracle_module.PREFIX, CASES[name], world))

    replayed = oracle_answer("code-replayed")  # what the code gave is revoked, the alarm recorded
    assert [row["token"] for row in replayed.tokens] == ["a-from-used"] and replayed.tokens[0]["revoked_at"]
    assert [(e[0], e[6]) for e in replayed.events] == [("token.reuse", {"kind": "authorization_code",
                                                                          "revoked": 1})]
    reused = oracle_answer("refresh-used")  # the whole family
    assert {row["token"] for row in reused.tokens} == {"a-rf-used", "a-rf-used-next"}
    assert [(e[0], e[6]) for e in reused.events] == [("token.reuse", {"kind": "refresh_token", "revoked": 2})]
    refreshed = oracle_answer("refresh-full")  # rotation: spent, its successor in the family
    spent, successor = refreshed.tokens
    assert spent["token"] == "a-rf-full" and spent["refresh_used_at"] is not None
    assert successor["refresh"] == "<issued refresh_token>" and successor["family"] == "f-rf-full"
    assert refreshed.body["id_token"]["claims"]["amr"] == ["pwd", "otp"]
    assert "nonce" not in refreshed.body["id_token"]["claims"]
    assert "refresh_token" not in oracle_answer("refresh-narrowed-no-refresh").body
    wide = oracle_answer("code-wide")  # a customer's token carries customer scopes only
    assert wide.body["scope"] == "openid offline_access" and "refresh_token" in wide.body
    assert "refresh_token" not in oracle_answer("code-nocc").body
    assert oracle_answer("code-nonce").body["id_token"]["claims"]["nonce"] == "n-0S6_WzA2Mj"
    policies = oracle_answer("code-policies").body["id_token"]["claims"]["policies"]
    assert [p["number"] for p in policies] == ["P-0001"]
    machine = oracle_answer("cc")  # a machine's token: machine scopes, no refresh token, no customer
    assert machine.body["scope"] == "bench.api" and "refresh_token" not in machine.body
    assert machine.tokens[0]["account"] is None and machine.tokens[0]["family"] is None
    revoked = oracle_answer("revoke-refresh")  # a refresh token revokes its grant: the family
    assert {row["token"] for row in revoked.tokens} == {"a-full", "a-full-sibling"}
    userinfo = oracle_answer("userinfo-get-full").body
    assert userinfo == {"sub": userinfo["sub"], "name": "Анна Иванова", "email": "oracle@example.com",
                        "email_verified": True, "phone_number": "+79161234567",
                        "phone_number_verified": False}
    assert set(oracle_answer("userinfo-get-bare").body) == {"sub", "email", "email_verified"}
