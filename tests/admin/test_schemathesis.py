"""Schemathesis over both OpenAPI documents, in process, with real tokens: every check it has, no failure.

The admin API (``/api/admin/openapi.json``) and the policy intake API (``/api/v1/openapi.json``) are loaded
from the documents the application serves; every operation gets examples, coverage cases (boundaries,
missing and wrong-typed values, methods the path does not take) and fuzzed cases, positive and negative,
sent to the WSGI app of the test (its own database, SQLite or PostgreSQL) with a bearer token from
``/oauth/token``. All of schemathesis's checks run: no 5xx, documented status codes, content types, headers
and bodies, schema-valid requests accepted and schema-invalid ones refused, 405 with ``Allow``, refusal
without the token.

Three rules of the policy document cannot be written in portable JSON Schema (its ``x-rules``: the end date
is not before the start date, the birth date lies between 1900-01-01 and today, a full name has a letter);
policies are generated respecting them (:func:`_policy_rules`, applied to every case before it is sent), as
the policy system would send them. Nor can a schema bound a whole body: both documents say a body is at most
64 KiB and answer 413 beyond, so a case whose JSON is larger (long strings in every list) is checked for
that 413 with every check but the two that judge acceptance by the schema alone (:func:`_send`). The run is
bounded and seeded: about 800 requests (mostly coverage cases), derandomized, no deadline.
"""
from __future__ import annotations

import json
import os
import re
from datetime import date
from importlib import resources
from urllib.parse import unquote

import hypothesis
import jsonschema
import schemathesis
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from idp.app import MAX_CONTENT_LENGTH
from tests.conftest import T0
from tests.policies.conftest import make_token  # noqa: F401  (the policy system's token)

#: Fuzzed cases per operation (coverage cases come on top: about 800 requests in all, ~20 s); set
#: ``IDP_TEST_SCHEMATHESIS_EXAMPLES`` for a longer run (150 found nothing more).
MAX_EXAMPLES = int(os.environ.get("IDP_TEST_SCHEMATHESIS_EXAMPLES", "12"))
SETTINGS = hypothesis.settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                               suppress_health_check=list(hypothesis.HealthCheck))


def _load(package: str):
    document = json.loads(resources.files(package).joinpath("openapi.json").read_text(encoding="utf-8"))
    schema = schemathesis.openapi.from_dict(document)
    schema.config.generation.update(max_examples=MAX_EXAMPLES, deterministic=True)
    return schema


admin_api = _load("idp.admin")
policies_api = _load("idp.policies")

EARLIEST_BIRTH = date(1900, 1, 1)
_LETTER = re.compile(r"[^\W\d_]")


def _policy_rules(body):
    """The document's ``x-rules``: the end date not before the start date, a birth date from 1900 to today, a
    letter in the full name (whatever else a case breaks, it still breaks)."""
    if not isinstance(body, dict):
        return body
    start, end = _date(body.get("start_date")), _date(body.get("end_date"))
    if start and end and end < start:
        body = {**body, "start_date": body["end_date"], "end_date": body["start_date"]}
    person = body.get("person")
    if not isinstance(person, dict):
        return body
    birth = _date(person.get("birth_date"))
    if birth and not EARLIEST_BIRTH <= birth <= T0.date():
        moved = date(EARLIEST_BIRTH.year + birth.year % (T0.year - EARLIEST_BIRTH.year), birth.month,
                     min(birth.day, 28))
        person = {**person, "birth_date": moved.isoformat()}
    name = person.get("full_name")
    if isinstance(name, str) and name.strip() and not _LETTER.search(name):
        # A letter added, or in place of a character that is neither a letter nor a control (length kept).
        spare = next((i for i, ch in enumerate(name) if ch.isprintable()), None)
        if len(name) < 300 or spare is not None:
            name = name + "Я" if len(name) < 300 else name[:spare] + "Я" + name[spare + 1:]
            person = {**person, "full_name": name}
    return {**body, "person": person}


def _date(value) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
    except ValueError:
        return None


def _send(case, app, token: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    body = case.body if isinstance(case.body, (dict, list)) else None
    # Measured as werkzeug's test client serialises it (json.dumps).
    if body is not None and len(json.dumps(body).encode()) > MAX_CONTENT_LENGTH:
        response = case.call(app=app, headers=headers)
        assert response.status_code == 413, response.text
        case.validate_response(response, headers=headers, transport_kwargs={"app": app},
                               excluded_checks=[negative_data_rejection, positive_data_acceptance])
        return
    case.call_and_validate(app=app, headers=headers)


def _token(app, make) -> str:
    """One real token per test (the app is the test's own): made on the first case, kept for the rest."""
    token = app.extensions.get("test.schemathesis.token")
    if token is None:
        token = app.extensions["test.schemathesis.token"] = make()[0]
    return token


def _account_rules(case, app) -> None:
    """The ``x-rules`` of the contact centre's operations (``/api/admin/accounts…``): a ``q`` or ``ref`` that the
    schema takes but the search refuses (something e-mail-like that is no e-mail, phone-like that is no phone, a
    name without a birth date) is replaced by one it takes, as an operator would retype it. A value the schema
    refuses is left as it is (whatever a case breaks, it still breaks)."""
    if not case.operation.path.startswith("/api/admin/accounts"):
        return
    from idp.support import AccountNotFound, InvalidQuery, find_accounts, resolve_account

    document = case.operation.schema.raw_schema
    text = document["components"]["parameters"]["AccountRef"]["schema"]

    def taken(search, value) -> bool:
        if not (isinstance(value, str) and jsonschema.Draft202012Validator(text).is_valid(value)):
            return True  # the schema's own refusal: keep it
        with app.app_context():
            try:
                search(value)
            except InvalidQuery:
                return False
            except AccountNotFound:
                pass
        return True

    ref = (case.path_parameters or {}).get("ref")  # as schemathesis sends it: percent-encoded
    if isinstance(ref, str) and not taken(resolve_account, unquote(ref)):
        case.path_parameters = {**case.path_parameters, "ref": "nobody@example.com"}
    if case.query and not taken(find_accounts, case.query.get("q")):
        case.query = {**case.query, "q": "nobody@example.com"}


@admin_api.parametrize()
@SETTINGS
def test_admin_api(case, app, make_admin_token):
    _account_rules(case, app)
    _send(case, app, _token(app, make_admin_token))


@policies_api.parametrize()
@SETTINGS
def test_policy_intake_api(case, app, make_token):
    if case.body is not None:
        case.body = _policy_rules(case.body)
    _send(case, app, _token(app, make_token))
