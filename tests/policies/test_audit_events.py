"""Held and refused policies in the audit trail: once per change of state or reason, number and code only."""
from __future__ import annotations

import io
import json

from idp.audit import search
from tests.policies.conftest import policy_doc


def trail(app, event: str) -> list[tuple]:
    with app.app_context():
        return [(e.details["number"], e.details["reason"]) for e in reversed(search(event=event))]


def test_held_and_refused_are_recorded_with_number_kind_and_reason(app, issue):
    issue(number="LF-1", person={"phone": None})
    issue(number="CR-1", kind="credit")
    with app.app_context():
        [held] = search(event="policy.held")
        [refused] = search(event="policy.refused")
    assert held.details == {"number": "LF-1", "kind": "individual", "reason": "missing_phone"}
    assert refused.details == {"number": "CR-1", "kind": "credit", "reason": "credit_linked"}
    assert held.account_id is None and refused.account_id is None
    # Nothing personal: neither the name nor the contacts of the policy.
    text = json.dumps([held.details, refused.details], ensure_ascii=False)
    assert "ivan@example.com" not in text and "Иванов" not in text and "916" not in text


def test_recorded_once_per_change_of_state_or_reason(app, issue, run_cli):
    doc = policy_doc(number="LF-1", person={"phone": None})
    issue(doc)
    issue(doc)  # the same policy again: unchanged
    issue(policy_doc(number="LF-1", person={"phone": None, "full_name": "Иванов Иван"}))  # still missing_phone
    assert json.loads(run_cli("policies", "recheck", "LF-1", "--json").output)["state"] == "held"
    assert trail(app, "policy.held") == [("LF-1", "missing_phone")]
    issue(policy_doc(number="LF-1", person={"phone": "+7 916"}))  # another reason
    issue(policy_doc(number="LF-1", kind="credit"))  # refused now
    issue(policy_doc(number="LF-1"))  # fixed: an account, no event of this kind
    assert trail(app, "policy.held") == [("LF-1", "missing_phone"), ("LF-1", "invalid_phone")]
    assert trail(app, "policy.refused") == [("LF-1", "credit_linked")]


def test_import_records_each_held_and_refused_row(app):
    from idp.policies import import_csv

    rows = ["number,kind,product,status,start_date,end_date,full_name,birth_date,email,phone",
            "A-1,individual,life,active,2026-01-01,2026-12-31,Анна Ким,1990-01-01,anna@example.com,",
            "A-2,credit,life,active,2026-01-01,2026-12-31,Анна Ким,1990-01-01,anna@example.com,+79161234567",
            "A-3,individual,life,active,2026-01-01,2026-12-31,Анна Ким,1990-01-01,anna@example.com,+79161234567"]
    with app.app_context():
        import_csv(app.extensions["idp"], io.StringIO("\n".join(rows) + "\n"))
        import_csv(app.extensions["idp"], io.StringIO("\n".join(rows) + "\n"))  # again: nothing new
    assert trail(app, "policy.held") == [("A-1", "missing_phone")]
    assert trail(app, "policy.refused") == [("A-2", "credit_linked")]


def test_cli_recheck_is_an_admin_action(app, issue, run_cli):
    issue(number="LF-1", person={"phone": None})
    run_cli("policies", "recheck", "LF-1")
    with app.app_context():
        [event] = search(event="admin.policy_recheck")
    assert event.details == {"number": "LF-1", "result": "held", "state": "held", "reason": "missing_phone",
                             "via": "cli"}


def test_metrics_count_the_events(app, client, issue):
    from tests.ops.test_ops import metric

    before = {name: metric(client, "idp_events_total", event=name) for name in ("policy.held", "policy.refused")}
    issue(number="LF-1", person={"email": None})
    issue(number="CR-1", kind="credit")
    issue(number="CR-2", kind="credit")
    assert metric(client, "idp_events_total", event="policy.held") == before["policy.held"] + 1
    assert metric(client, "idp_events_total", event="policy.refused") == before["policy.refused"] + 2
