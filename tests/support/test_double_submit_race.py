"""Two submits of one form at the same moment (two instances, a double click): the action is done once."""
from __future__ import annotations

import threading

from sqlalchemy import func, select

from idp.audit import AuditEvent
from idp.extensions import db
from idp.support import sign_out
from tests.support.conftest import account_of


def test_parallel_submits_with_one_token_do_it_once(app, customer, operator):
    results, errors = [], []
    barrier = threading.Barrier(2)

    def submit():
        try:
            with app.app_context():
                services = app.extensions["idp"]
                account = account_of(customer)
                barrier.wait(timeout=10)
                results.append(sign_out(services, operator, account, reason="двойной клик", token="race-token"))
                db.session.remove()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert sorted(result.repeated for result in results) == [False, True]
    with app.app_context():
        done = db.session.execute(select(func.count()).select_from(AuditEvent)
                                  .where(AuditEvent.event == "support.sign_out")).scalar()
        assert done == 1
