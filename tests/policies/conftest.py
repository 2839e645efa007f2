"""Factories for policy documents, and a helper that issues them against the test's app."""
from __future__ import annotations

import copy
import itertools

import pytest

_numbers = itertools.count(1)


def policy_doc(**overrides) -> dict:
    """A valid individual life policy of Иванов Иван Иванович; ``person``/``employer`` keys merge."""
    doc = {
        "number": f"LF-2026-{next(_numbers):06d}",
        "kind": "individual",
        "product": "life",
        "status": "active",
        "start_date": "2026-01-15",
        "end_date": "2027-01-14",
        "person": {"full_name": "Иванов Иван Иванович", "birth_date": "1980-05-17",
                   "email": "ivan@example.com", "phone": "+7 916 123-45-67"},
    }
    for key, value in overrides.items():
        if key == "person" and isinstance(value, dict):
            merged = {**doc["person"], **value}
            doc["person"] = {k: v for k, v in merged.items() if v is not DROP}
        elif value is DROP:
            doc.pop(key, None)
        else:
            doc[key] = copy.deepcopy(value)
    return doc


DROP = object()


@pytest.fixture
def issue(app):
    """``issue(**overrides)`` → the outcome dict of one policy issued through the domain (source ``test``)."""
    from idp.policies import issue_policy

    def _issue(document=None, **overrides):
        with app.app_context():
            return issue_policy(app.extensions["idp"], document or policy_doc(**overrides), source="test").as_dict()

    return _issue
