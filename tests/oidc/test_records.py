"""The hot paths' records and statements (idp.oidc.records, idp.oidc.sql) against SQLAlchemy itself: the same
values read and written, the models' behaviour, the transaction they belong to. Runs on SQLite, and on
PostgreSQL with IDP_TEST_DATABASE_URL."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert, select, text

from idp.accounts import Account
from idp.clients import OAuthClient, create_client
from idp.extensions import db
from idp.oidc import autocommit, records, sql, tokens
from idp.oidc.models import AuthorizationCode, OAuthToken, token_hash


def _setup(app, make_account):
    account = make_account(email="rec@example.com", full_name="Анна", password="Polis2026")
    services = app.extensions["idp"]
    now = services.clock.now()
    with app.app_context():
        client = create_client(services.settings, name="Портал", redirect_uris=["https://rp.example/cb"],
                               scopes=["openid", "email", "bench.api"], now=now).client
        db.session.commit()
        return account.id, client.id, client.client_id, now


def _insert_code(client_pk, account_id, now) -> None:
    """An unspent code "c" of the account, in the session's transaction."""
    db.session.execute(insert(AuthorizationCode.__table__), dict(
        code_hash=token_hash("c"), client_pk=client_pk, account_id=account_id, redirect_uri="https://rp.example/cb",
        scope="openid", nonce=None, code_challenge=None, code_challenge_method=None, auth_time=now, amr="pwd",
        created_at=now, expires_at=now + timedelta(minutes=1)))


class Lost(Exception):
    """The alarm a lost spend raises in these tests."""


def alarm():
    raise Lost()


def _token_values(client_pk, account_id, now, n=""):
    return dict(access_token_hash=token_hash("a" + n), refresh_token_hash=token_hash("r" + n), client_pk=client_pk,
                account_id=account_id, scope="openid email", grant_type="authorization_code", family_id="f" + n,
                code_id=None, issued_at=now, access_expires_at=now + timedelta(minutes=5),
                refresh_expires_at=now + timedelta(days=30), auth_time=now - timedelta(seconds=7), amr="pwd")


def test_rows_are_what_sqlalchemy_returns(app, make_account):
    account_id, client_pk, client_id, now = _setup(app, make_account)
    with app.app_context():
        db.session.execute(insert(OAuthToken.__table__), _token_values(client_pk, account_id, now))
        db.session.execute(insert(AuthorizationCode.__table__), dict(
            code_hash=token_hash("c"), client_pk=client_pk, account_id=account_id, redirect_uri="https://rp.example/cb",
            scope="openid", nonce="n-1", code_challenge=None, code_challenge_method=None, auth_time=now, amr="pwd",
            created_at=now, expires_at=now + timedelta(minutes=1)))
        db.session.commit()
        cases = [(records._CLIENT_BY_CLIENT_ID, {"client_id": client_id}),
                 (records._ACCOUNT_BY_ID, {"id": account_id}),
                 (records._CODE_BY_HASH, {"hash": token_hash("c")}),
                 (records._TOKEN_BY_ACCESS_HASH, {"hash": token_hash("a")}),
                 (records._TOKEN_BY_REFRESH_HASH, {"hash": token_hash("r")})]
        for statement, params in cases:
            expected = tuple(db.session.execute(statement.statement, params).first())
            assert statement.first(params) == expected
            with sql.read_only():
                assert statement.first(params) == expected
        assert records._CLIENT_BY_CLIENT_ID.first({"client_id": "nobody"}) is None


def test_written_rows_are_what_sqlalchemy_writes(app, make_account):
    """Dates in SQLite's text keep SQLAlchemy's format (queries compare them as text)."""
    account_id, client_pk, _, now = _setup(app, make_account)
    now = now.replace(microsecond=0)  # the format must not depend on whether there are microseconds
    with app.app_context():
        tokens.add_token(**_token_values(client_pk, account_id, now, "1"))
        db.session.execute(insert(OAuthToken.__table__), _token_values(client_pk, account_id, now, "2"))
        db.session.commit()
        raw = db.session.execute(text("SELECT family_id, CAST(issued_at AS TEXT), CAST(refresh_expires_at AS TEXT) "
                                      "FROM oauth_tokens ORDER BY family_id")).all()
        assert [tuple(r[1:]) for r in raw] == [tuple(raw[1][1:])] * 2
        row = db.session.execute(select(OAuthToken).where(OAuthToken.family_id == "f1")).scalar_one()
        assert (row.issued_at, row.auth_time, row.revoked_at) == (now, now - timedelta(seconds=7), None)


def test_writes_belong_to_the_session_transaction(app, make_account):
    account_id, client_pk, _, now = _setup(app, make_account)
    with app.app_context():
        tokens.add_token(**_token_values(client_pk, account_id, now))
        found = tokens.find_token("a", tokens.ACCESS, now=now)  # this transaction's own write is seen
        assert found is not None and found.row.account.id == account_id
        assert tokens.spend_refresh(found.row, now=now) and found.row.refresh_used_at == now
        assert not tokens.spend_refresh(found.row, now=now)  # spent once only
        db.session.rollback()
        assert tokens.find_token("a", tokens.ACCESS, now=now) is None  # rolled back with the session


def test_records_behave_like_their_models(app, make_account):
    account_id, client_pk, client_id, now = _setup(app, make_account)
    with app.app_context():
        entity = db.session.get(OAuthClient, client_pk)
        record = records.find_client(client_id)
        assert record.active and record.client_metadata == entity.client_metadata
        assert record.get_allowed_scope("email profile openid") == entity.get_allowed_scope("email profile openid")
        assert record.check_grant_type("authorization_code") == entity.check_grant_type("authorization_code")
        account = records.find_account(account_id)
        assert (account.active, account.login, account.subject) == (True, "rec@example.com",
                                                                    db.session.get(Account, account_id).subject)
        entity.disabled_at = now
        db.session.commit()
        assert records.find_client(client_id).active is False
        assert records.find_active_client(client_id) is None  # no caching: the next lookup sees it


def test_a_client_fetches_the_code_it_presents_in_the_same_query(app, make_account, monkeypatch):
    """expecting_code: the client lookup brings the code and its customer (one query, counted where every
    lookup runs, ``sql._execute``), equal to what the lookups one by one find; with no code, no code; with no
    client, nothing (the caller stops there)."""
    account_id, client_pk, client_id, now = _setup(app, make_account)
    with app.app_context():
        _insert_code(client_pk, account_id, now)
        db.session.commit()
        alone = (records.find_client(client_id), records.find_code(token_hash("c")), records.find_account(account_id))
        queries, real = [], sql._execute

        def counted(engine, compiled, params, *, fetch):
            queries.append(compiled[0])
            return real(engine, compiled, params, fetch=fetch)

        with monkeypatch.context() as patch:
            patch.setattr(sql, "_execute", counted)
            with records.expecting_code(token_hash("c")):
                client = records.find_client(client_id)
                code = records.find_code(token_hash("c"))
        assert len(queries) == 1 and "oauth_codes" in queries[0] and "accounts" in queries[0]
        values = lambda record: {k: getattr(record, k) for k in record._keys}  # noqa: E731 - JSON decoded
        assert values(client) == values(alone[0]) and values(code) == values(alone[1])
        assert values(code.__dict__["account"]) == values(alone[2])
        hooks = app.extensions["idp.oidc"]
        assert hooks.authenticate_user(code).id == account_id  # the customer that came with it
        with records.expecting_code(token_hash("not-a-code")):
            assert records.find_client(client_id).id == client_pk
            assert records.find_code(token_hash("not-a-code")) is None
        with records.expecting_code(token_hash("c")):
            assert records.find_client("nobody") is None
            assert records.find_code(token_hash("c")) is None  # the joined query found no row (as for a token)
            assert records.find_code(token_hash("c")).id == code.id  # asked again: the database answers


def test_a_record_asks_its_entity_for_what_it_lacks(app, make_account):
    account_id, client_pk, _, now = _setup(app, make_account)
    with app.app_context():
        _insert_code(client_pk, account_id, now)
        code = records.find_code(token_hash("c"))
        assert code.client.id == client_pk  # a relationship: the ORM entity's
        assert code.get_amr() == ["pwd"] and code.get_nonce() is None


def test_read_only_leaves_the_pools_connections_as_they_were(app, make_account):
    """The pool's connections are never left in autocommit mode (PostgreSQL: read_only's own is kept
    beside the pool, tests/oidc/test_autocommit.py)."""
    _, _, client_id, _ = _setup(app, make_account)
    with app.app_context():
        with sql.read_only():
            assert records.find_client(client_id) is not None
        raw = db.engine.raw_connection()
        try:
            if db.engine.dialect.name == "postgresql":
                assert raw.driver_connection.autocommit is False
        finally:
            raw.close()


def test_deferred_writes_wait_for_run_deferred_and_a_lost_spend_rolls_back(app, make_account):
    """Inside deferred_writes nothing is written until run_deferred; a spend that finds the code spent by a
    concurrent exchange drops this request's writes and raises through its alarm."""
    import pytest

    account_id, client_pk, _, now = _setup(app, make_account)
    with app.app_context():
        _insert_code(client_pk, account_id, now)
        db.session.commit()

        with tokens.deferred_writes():
            row = tokens.find_code("c")
            assert tokens.spend_code(row, now=now, on_conflict=alarm) and row.used_at == now
            tokens.add_token(**_token_values(client_pk, account_id, now))
            assert tokens.find_token("a", tokens.ACCESS, now=now) is None  # not written yet
            with db.engine.begin() as other:  # a concurrent exchange spends the code first
                other.execute(AuthorizationCode.__table__.update().values(used_at=now))
            with pytest.raises(Lost):
                tokens.run_deferred()
        db.session.commit()
        assert tokens.find_token("a", tokens.ACCESS, now=now) is None  # the token was never written

        db.session.execute(AuthorizationCode.__table__.update().values(used_at=None))
        db.session.commit()
        with tokens.deferred_writes():
            row = tokens.find_code("c")
            assert tokens.spend_code(row, now=now, on_conflict=alarm)
            tokens.add_token(**_token_values(client_pk, account_id, now))
            tokens.run_deferred()
        db.session.commit()
        assert tokens.find_token("a", tokens.ACCESS, now=now) is not None
        assert not tokens.spend_code(tokens.find_code("c"), now=now)  # outside: at once, and spent already


def test_writers_queue_on_a_lock_file_beside_a_sqlite_database(app):
    import threading

    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            with sql.writing():  # PostgreSQL locks rows: nothing to queue for
                return
        order = []

        def second():
            with app.app_context(), sql.writing():
                order.append("second")

        with sql.writing():
            thread = threading.Thread(target=second)
            thread.start()
            thread.join(0.2)
            order.append("first")  # the second writer is still waiting
        thread.join(5)
        assert order == ["first", "second"]
        from pathlib import Path
        assert Path(db.engine.url.database + "-writers.lock").exists()


def _is_postgres() -> bool:
    return db.engine.dialect.name == "postgresql"


def _event(now, agent: str) -> dict:
    from idp.audit import Origin, event_values

    return event_values("token.issued", at=now, origin=Origin(ip="203.0.113.7", user_agent=agent),
                        client_id="c-1", grant_type="client_credentials", scope="bench.api", with_refresh=False)


def test_token_endpoint_writes_in_one_transaction_apart(app, make_account):
    """Inside reads_apart (the token endpoint) the lookups run on a connection of their own and the deferred
    writes there in one transaction (on PostgreSQL in one round trip, the values bound by the client), never
    through the ORM session; the rows are the ones written one by one through the session, byte for byte
    (quotes, percent signs, backslashes, Cyrillic, JSON)."""
    from idp.audit import AuditEvent

    account_id, client_pk, client_id, now = _setup(app, make_account)
    agent = "Mozilla/5.0 'x'; DROP TABLE t; -- 100% \\ «Полис» \"q\""
    with app.app_context():
        with tokens.deferred_writes(), sql.reads_apart():
            assert records.find_client(client_id) is not None
            assert sql.can_batch()
            tokens.add_token(**_token_values(client_pk, account_id, now, "1"))
            tokens.add_event(_event(now, agent))
            tokens.run_deferred()
            assert not sql.session_began()  # the session was never used
        tokens.add_token(**_token_values(client_pk, account_id, now, "2"))  # one by one, in the session
        tokens.add_event(_event(now, agent))
        db.session.commit()
        rows = db.session.execute(text(
            "SELECT CAST(issued_at AS TEXT), CAST(access_expires_at AS TEXT), CAST(auth_time AS TEXT), scope, amr "
            "FROM oauth_tokens ORDER BY family_id")).all()
        assert len(rows) == 2 and rows[0] == rows[1]
        events = db.session.execute(select(AuditEvent).where(AuditEvent.event == "token.issued")
                                    .order_by(AuditEvent.id)).scalars().all()
        assert len(events) == 2
        assert [(e.at, e.user_agent, e.ip, e.details) for e in events][0] == \
               [(e.at, e.user_agent, e.ip, e.details) for e in events][1]
        assert events[0].user_agent == agent and events[0].details["grant_type"] == "client_credentials"


def test_a_lost_spend_apart_writes_nothing_and_the_alarm_answers(app, make_account):
    """The spend is checked before anything else is written: a code spent meanwhile rolls back the
    transaction apart and raises through the alarm; a successful one commits spend and token together."""
    import pytest

    account_id, client_pk, _, now = _setup(app, make_account)
    with app.app_context():
        _insert_code(client_pk, account_id, now)
        db.session.commit()

        with tokens.deferred_writes(), sql.reads_apart():
            tokens.add_token(**_token_values(client_pk, account_id, now))  # queued before the spend
            row = tokens.find_code("c")
            assert tokens.spend_code(row, now=now, on_conflict=alarm)
            with db.engine.begin() as other:  # a concurrent exchange spends the code first
                other.execute(AuthorizationCode.__table__.update().values(used_at=now))
            with pytest.raises(Lost):
                tokens.run_deferred()
        db.session.rollback()
        assert tokens.find_token("a", tokens.ACCESS, now=now) is None

        db.session.execute(AuthorizationCode.__table__.update().values(used_at=None))
        db.session.commit()
        with tokens.deferred_writes(), sql.reads_apart():
            row = tokens.find_code("c")
            assert tokens.spend_code(row, now=now, on_conflict=alarm)
            tokens.add_token(**_token_values(client_pk, account_id, now))
            tokens.run_deferred()
            if db.session().in_transaction():
                db.session.commit()
        assert tokens.find_token("a", tokens.ACCESS, now=now) is not None
        assert tokens.find_code("c").used_at is not None


def test_a_failed_write_apart_rolls_back_and_names_no_value(app, make_account):
    """A database error in the batch (here a duplicate token hash) leaves nothing of the batch written, is
    raised as SQLAlchemy's exception without the values sent (addresses, user agents), and the connection is
    given back idle (on PostgreSQL still in autocommit mode) and kept, ready for the next request."""
    import pytest
    from sqlalchemy.exc import IntegrityError

    account_id, client_pk, client_id, now = _setup(app, make_account)
    with app.app_context():
        tokens.add_token(**_token_values(client_pk, account_id, now, "1"))
        db.session.commit()
        issued = text("SELECT count(*) FROM audit_events WHERE event = 'token.issued'")
        with sql.reads_apart():
            assert records.find_client(client_id) is not None
            with pytest.raises(IntegrityError) as raised:
                sql.transaction([], [(tokens._INSERT_EVENT, _event(now, "agent-x")),
                                     (tokens._INSERT_TOKEN, _token_values(client_pk, account_id, now, "1"))])
        message = str(raised.value)
        assert "INSERT INTO oauth_tokens" in message  # the statement that failed (PostgreSQL: the batch)
        # The values sent are not in it (PostgreSQL's own DETAIL names the duplicate key, as for any statement).
        assert "203.0.113.7" not in message and "agent-x" not in message and "bench.api" not in message
        assert db.session.execute(issued).scalar() == 0
        [kept] = autocommit._spares[db.engine].connections  # given back, and kept: nothing left open
        assert not kept.in_transaction()
        if _is_postgres():
            assert kept.driver_connection.autocommit is True
            assert kept.driver_connection.info.transaction_status == 0  # idle
        with sql.reads_apart():  # and the next batch goes through
            assert sql.transaction([], [(tokens._INSERT_EVENT, _event(now, "agent-y"))]) is None
        assert db.session.execute(issued).scalar() == 1


def test_writes_stay_with_a_session_that_began(app, make_account):
    """If anything in the request used the ORM session, the deferred writes go into its transaction (to
    commit or roll back together), not apart."""
    account_id, client_pk, client_id, now = _setup(app, make_account)
    with app.app_context():
        with tokens.deferred_writes(), sql.reads_apart():
            db.session.get(OAuthClient, client_pk)  # the session's transaction begins
            assert not sql.can_batch()
            tokens.add_token(**_token_values(client_pk, account_id, now))
            tokens.run_deferred()
            db.session.rollback()
        assert tokens.find_token("a", tokens.ACCESS, now=now) is None  # rolled back with the session
