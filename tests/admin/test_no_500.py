"""Nothing anyone sends to the admin surfaces ends in a 500: generated bodies against the API and the form."""
from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.admin.conftest import csrf_of

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=300),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=20)
plausible = st.fixed_dictionaries({}, optional={
    "name": st.one_of(st.text(max_size=300), json_values),
    "client_id": st.one_of(st.from_regex(r"[A-Za-z0-9._~-]{0,70}", fullmatch=True), json_values),
    "redirect_uris": st.one_of(st.lists(st.one_of(st.just("https://rp.example/cb"), st.text(max_size=80),
                                                  st.from_regex(r"https?://[a-z0-9.:@*#-]{0,30}/[^ ]{0,20}",
                                                                fullmatch=True)), max_size=25), json_values),
    "post_logout_redirect_uris": st.one_of(st.lists(st.text(max_size=80), max_size=3), json_values),
    "scopes": st.one_of(st.lists(st.sampled_from(["openid", "admin", "", " ", "a\\b", "x" * 70])
                                 | st.text(max_size=10), max_size=5), json_values),
    "grant_types": st.one_of(st.lists(st.sampled_from(["authorization_code", "refresh_token",
                                                        "client_credentials", "password"]), max_size=4),
                             json_values),
    "public": json_values, "first_party": json_values,
})
bodies = st.one_of(plausible.map(lambda d: json.dumps(d).encode()),
                   json_values.map(lambda v: json.dumps(v).encode()), st.binary(max_size=200))
content_types = st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain",
                                 "application/merge-patch+json"])


@pytest.fixture
def bearer(client, make_client):
    client_id, secret = make_client(scopes=["admin"], grant_types=["client_credentials"], redirect_uris=[])
    response = client.post("/oauth/token", data={"grant_type": "client_credentials", "scope": "admin"},
                           auth=(client_id, secret))
    assert response.status_code == 200, response.get_data(as_text=True)
    return {"Authorization": "Bearer " + response.get_json()["access_token"]}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, patch=st.booleans(), content_type=content_types)
def test_api_never_answers_500(client, bearer, make_client, body, patch, content_type):
    target, _ = make_client() if patch else (None, None)
    path = f"/api/admin/clients/{target}" if patch else "/api/admin/clients"
    response = client.open(path, method="PATCH" if patch else "POST", data=body,
                           headers={**bearer, "Content-Type": content_type})
    assert response.status_code < 500, (body, response.get_data(as_text=True))
    assert response.is_json
    if response.status_code >= 400:
        assert isinstance(response.get_json()["error"], str)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(form=st.fixed_dictionaries({}, optional={
           name: st.text(max_size=500)
           for name in ("name", "redirect_uris", "post_logout_redirect_uris", "public", "first_party")}),
       scopes=st.lists(st.text(max_size=20), max_size=5))
def test_form_never_answers_500(admin_client, form, scopes):
    token = csrf_of(admin_client.get("/admin/clients/new").get_data(as_text=True))
    response = admin_client.post("/admin/clients/new", data={"csrf_token": token, **form, "scopes": scopes})
    assert response.status_code in (200, 400), response.status_code
    assert re.search(r'<h1>', response.get_data(as_text=True))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(page=st.text(max_size=30), filter_=st.text(max_size=30), ident=st.text(min_size=1, max_size=40))
def test_casework_pages_and_api_never_answer_500(admin_client, client, bearer, page, filter_, ident):
    """Page numbers, filters and ids of the held, refused and failed-message lists and actions."""
    from urllib.parse import quote

    token = csrf_of(admin_client.get("/admin/held").get_data(as_text=True))
    ident = quote(ident, safe="")
    for path, query in (("/admin/held", {"page": page}), ("/admin/refused", {"page": page, "reason": filter_}),
                        ("/admin/deliveries", {"page": page, "status": filter_}), (f"/admin/policies/{ident}", {})):
        assert admin_client.get(path, query_string=query).status_code < 500  # 308: slashes merged
    for path in (f"/admin/policies/{ident}/recheck", f"/admin/deliveries/{ident}/requeue"):
        assert admin_client.post(path, data={"csrf_token": token}).status_code < 500
    for method, path, query in (("GET", "/api/admin/policies/held", {"page": page, "per_page": filter_}),
                                ("GET", "/api/admin/policies/refused", {"reason": filter_}),
                                ("GET", "/api/admin/deliveries", {"status": filter_, "page": page}),
                                ("POST", f"/api/admin/policies/{ident}/recheck", {}),
                                ("POST", f"/api/admin/deliveries/{ident}/requeue", {})):
        response = client.open(path, method=method, query_string=query, headers=bearer)
        assert response.status_code < 500, (path, response.status_code)
