"""Shared pieces of the property-based tests: hostile values, raw request bodies, and the one property
every answer must have (never a 500; a page with a code, a redirect home or to the client, or a JSON
error with a known code) and the one every refused request must have (no account changed).
"""
from __future__ import annotations

import base64
import json
import os
import re
from urllib.parse import quote_plus, urlsplit

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from sqlalchemy import select

from idp.extensions import db

#: Every property: bounded (``IDP_FUZZ_EXAMPLES`` raises it for a deeper hunt), no deadline (bcrypt, first
#: requests), no example database in the tree.
FUZZ = settings(max_examples=int(os.environ.get("IDP_FUZZ_EXAMPLES", "60")), deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.filter_too_much])

PASSWORD = "Polis2026"
LOGIN = "client@example.com"
PHONE = "+79161234567"

#: Values that broke real systems: NUL and control characters, bidi and zero-width marks, look-alikes,
#: lone surrogates (sent as the bytes a broken client would send), SQL and markup, huge values.
SPECIALS = [
    "", " ", "\x00", "a\x00b", "\r\n", "%0d%0a", "\t", "\x1b[31m", "\x7f", "\u202e", "\u200f", "\u200b",
    "\ufeff", "\ufffd", "\ud800", "\udfff", "a\ud83d", "😀", "ﷺ", "İ", "ß", "\u212a", "сlient@example.com",
    "' OR '1'='1", "\"; DROP TABLE accounts; --", "<script>alert(1)</script>", "{{7*7}}", "${jndi:x}",
    "../../etc/passwd", "%00", "%ZZ", "+", "&", "=", "\\", "//evil.example", "javascript:alert(1)",
    "A" * 300, "я" * 2000, "x" * 70_000, LOGIN, PHONE, "8 (916) 123-45-67", PASSWORD, "None", "null", "[]",
    "-1", "0", "99999999999999999999", "1e309",
]

#: Arbitrary text including lone surrogates and every control character.
any_text = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=80)
nasty_text = st.one_of(st.sampled_from(SPECIALS), any_text, st.text(max_size=20))

CONTENT_TYPES = [
    "application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=utf-8",
    "application/x-www-form-urlencoded; charset=latin-1", "application/x-www-form-urlencoded; charset=utf-16",
    "multipart/form-data", "multipart/form-data; boundary=xyz", "application/json", "text/plain",
    "application/octet-stream", "", "x/\x7f", "application/x-www-form-urlencoded;;;=",
]


def encode(value: str) -> bytes:
    """The bytes a client would send for ``value``; lone surrogates as their (invalid) UTF-8 bytes."""
    return value.encode("utf-8", "surrogatepass")


def form_body(pairs: list[tuple[str, str]]) -> bytes:
    """``application/x-www-form-urlencoded`` of ``pairs`` (repeats and odd names allowed)."""
    return b"&".join(quote_plus(encode(k)).encode() + b"=" + quote_plus(encode(v)).encode() for k, v in pairs)


def query_string(pairs: list[tuple[str, str]]) -> bytes:
    return form_body(pairs)


def fields(names: list[str], *, extra_names: bool = True):
    """Lists of (name, value) pairs: some named fields, maybe missing, maybe repeated, maybe strangers."""
    name = st.sampled_from(names)
    if extra_names:
        name = weighted((3, name), (1, nasty_text))
    return st.lists(st.tuples(name, nasty_text), max_size=len(names) + 3)


def bodies(names: list[str]):
    """A request body and its Content-Type: a form of (fuzzed) fields, or raw bytes of any kind."""
    form = st.tuples(fields(names).map(form_body), st.sampled_from(CONTENT_TYPES[:4]))
    raw = st.tuples(st.one_of(st.binary(max_size=200), st.sampled_from([
        b"\xff\xfe\x00l\x00o", b"login=%ff%fe&password=%c0%80", b"login=\xc3\x28&password=\xed\xa0\x80",
        b"--xyz\r\nContent-Disposition: form-data; name=\"login\"\r\n\r\n\x00\r\n--xyz--",
        b"{\"login\": \"\\ud800\"}", b"=" * 1000, b"&" * 1000, b"a=" + b"%" * 500, b"x" * 70_000])),
        st.sampled_from(CONTENT_TYPES))
    return weighted((2, form), (1, raw))


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(encode(user) + b":" + encode(password)).decode("ascii")


authorization_headers = st.one_of(
    st.none(),
    st.sampled_from(["", "Bearer", "Bearer ", "Basic", "Basic !!!", "Basic " + "A" * 5000, "Digest x",
                     "Bearer a b c", "bearer x", "Basic " + base64.b64encode(b"\xff:\xfe").decode()]),
    st.builds(lambda t: "Bearer " + t, st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xff),
                                               max_size=100)),
    st.builds(basic, nasty_text, nasty_text),
)


# -- what every answer must look like --------------------------------------------------------------------

#: Error codes an answer may carry: OAuth 2.0 (RFC 6749 §4.1.2.1, §5.2), bearer tokens (RFC 6750 §3.1),
#: revocation (RFC 7009), OIDC Core §3.1.2.6, and the provider's own (idp/errors.py, the APIs).
JSON_ERRORS = {
    "invalid_request", "invalid_client", "invalid_grant", "unauthorized_client", "unsupported_grant_type",
    "invalid_scope", "access_denied", "unsupported_response_type", "invalid_token", "insufficient_scope",
    "unsupported_token_type", "login_required", "consent_required", "interaction_required",
    "request_not_supported", "request_uri_not_supported", "invalid_request_uri", "invalid_request_object",
    "bad_request", "not_found", "method_not_allowed", "too_large", "request_too_large", "csrf",
    "too_many_requests", "unsupported_media_type", "conflict", "invalid_redirect_uri",
    "invalid_client_metadata", "forbidden",
}
_DATA_CODE = re.compile(r'data-code="([^"]+)"')


def check_answer(response, *, redirect_to: tuple[str, ...] = ()) -> None:
    """Never a 5xx; an HTML page (errors carry a ``data-code``), a redirect to this site or to one of
    ``redirect_to``, or JSON (errors with a known ``error``)."""
    status, body = response.status_code, response.get_data()
    assert status < 500, (status, body[:2000])
    event(f"{status} {_summary(response, body)}")  # pytest --hypothesis-show-statistics: what was reached
    if status in (301, 302, 303, 307, 308):
        location = response.headers["Location"]
        assert "\r" not in location and "\n" not in location
        parts = urlsplit(location)
        own_host = getattr(getattr(response, "request", None), "host", None)
        local = (not parts.scheme and not parts.netloc and location.startswith("/")
                 and not location.startswith(("//", "/\\"))) or (parts.netloc == own_host and own_host)
        assert local or location.startswith(redirect_to) and redirect_to, location
        return
    if response.mimetype == "application/json":
        data = json.loads(body) if body else {}
        if status >= 400:
            assert isinstance(data, dict) and data.get("error") in JSON_ERRORS, (status, data)
        return
    if status == 204 or (status == 200 and not body):
        return
    assert response.mimetype == "text/html", (status, response.mimetype, body[:500])
    if status >= 400:
        assert _DATA_CODE.search(body.decode("utf-8")), (status, body[:2000])


def _summary(response, body: bytes) -> str:
    if response.status_code in (301, 302, 303, 307, 308):
        return "→ " + response.headers.get("Location", "")[:20]
    if response.mimetype == "application/json":
        try:
            data = json.loads(body) if body else {}
        except ValueError:
            return "json?"
        return str(data.get("error", "ok")) if isinstance(data, dict) else "json"
    return ",".join(_DATA_CODE.findall(body.decode("utf-8", "replace"))[:2]) or response.mimetype


def accounts_snapshot(app) -> list[tuple]:
    """Every column of every account, in order: what no refused request may change."""
    from idp.accounts import Account

    with app.app_context():
        rows = db.session.execute(select(Account.__table__).order_by(Account.__table__.c.id)).all()
        db.session.remove()
        return [tuple(row) for row in rows]


def fuzz_app(make_app):
    """An app whose throttles never stop a fuzzer early (the throttles have their own tests)."""
    return make_app(signin_threshold=10**6, signin_login_ceiling=10**6, ip_threshold=10**6, reset_per_minute=10**6,
                    reset_per_hour=10**6, reset_login_ceiling=10**6)


def weighted(*choices):
    """One of the strategies, chosen with the given weights: ``weighted((3, a), (1, b))``.

    (``st.one_of`` leans towards the richer branch once a constant one has been tried, so "mostly valid"
    needs an explicit choice.)"""
    pool = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.sampled_from(pool).flatmap(lambda chosen: chosen)


def mostly(valid, hostile, odds: int = 3):
    """``valid`` ``odds`` times in ``odds + 1``, else a draw from ``hostile``."""
    return weighted((odds, st.just(valid)), (1, hostile))


def mutated(valid: dict, *, extra: bool = True):
    """Pairs built from a valid request with up to three changes, each dropping a parameter, replacing
    its value with a hostile one, or repeating it with one; maybe a stranger or two added."""
    how = st.sampled_from(["drop", "replace", "replace", "repeat"])
    change = st.tuples(st.sampled_from(list(valid)), how, nasty_text)
    strangers = st.lists(st.tuples(nasty_text, nasty_text), max_size=2) if extra else st.just([])

    def apply(changes_and_strangers):
        changes, added = changes_and_strangers
        pairs = list(valid.items())
        for name, how, value in changes:
            if how == "drop":
                pairs = [p for p in pairs if p[0] != name]
            elif how == "replace":
                pairs = [(k, value if k == name else v) for k, v in pairs]
            else:
                pairs.append((name, value))
        return pairs + added

    return st.tuples(st.lists(change, max_size=3), weighted((3, st.just([])), (1, strangers))).map(apply)
