"""The protocol store's records, writes and transactions (idp.oidc.store) against SQLAlchemy itself: the same
values read and written as through the ORM, the models' behaviour, what one transaction commits or leaves
unwritten. Runs on the suite's database: SQLite, or PostgreSQL with IDP_TEST_DATABASE_URL. The connections
themselves (kept, given back, lost, forked) are tests/oidc/test_store_connections.py's.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import JSON, inspect, insert, select, text, update
from sqlalchemy import exc as sa_exc

from idp.accounts import Account
from idp.audit import AuditEvent, Origin, event_values
from idp.clients import OAuthClient, create_client
from idp.extensions import db
from idp.oidc import store
from idp.oidc.models import AuthorizationCode, OAuthToken, token_hash
from idp.oidc.store import LostRace, connections, records
from idp.oidc.store.statements import Pending
from idp.policies.claims import claims_for
from idp.policies.models import ATTACHED, HELD, Policy


# -- the world of these tests ------------------------------------------------------------------------------

def _setup(app, make_account):
    """A customer and a confidential client of theirs: (account id, client pk, client_id, now)."""
    account = make_account(email="rec@example.com", full_name="Анна", password="Polis2026")
    services = app.extensions["idp"]
    now = services.clock.now()
    with app.app_context():
        client = create_client(services.settings, name="Портал", redirect_uris=["https://rp.example/cb"],
                               scopes=["openid", "email", "bench.api"], now=now).client
        db.session.commit()
        return account.id, client.id, client.client_id, now


def _other_client(app, now, client_id: str | None = None) -> tuple[int, str]:
    with app.app_context():
        client = create_client(app.extensions["idp"].settings, name="Другой", client_id=client_id,
                               redirect_uris=["https://other.example/cb"], now=now).client
        db.session.commit()
        return client.id, client.client_id


def _store(app) -> store.Store:
    return app.extensions["idp.oidc.store"]


def _code_values(client_pk, account_id, now, value="c", **fields) -> dict:
    values = dict(code_hash=token_hash(value), client_pk=client_pk, account_id=account_id,
                  redirect_uri="https://rp.example/cb", scope="openid", nonce=None, code_challenge=None,
                  code_challenge_method=None, auth_time=now, amr="pwd", created_at=now,
                  expires_at=now + timedelta(minutes=1))
    values.update(fields)
    return values


def _insert_code(client_pk, account_id, now, value="c", **fields) -> int:
    """An unspent code ``value`` of the account, committed; its id."""
    row_id = db.session.execute(insert(AuthorizationCode.__table__).returning(AuthorizationCode.id),
                                _code_values(client_pk, account_id, now, value, **fields)).scalar_one()
    db.session.commit()
    return row_id


def _token_values(client_pk, account_id, now, n="", **fields) -> dict:
    values = dict(access_token_hash=token_hash("a" + n), refresh_token_hash=token_hash("r" + n),
                  client_pk=client_pk, account_id=account_id, scope="openid email",
                  grant_type="authorization_code", family_id="f" + n, code_id=None, issued_at=now,
                  access_expires_at=now + timedelta(minutes=5), refresh_expires_at=now + timedelta(days=30),
                  auth_time=now - timedelta(seconds=7), amr="pwd", sid="session-1",
                  resource="https://api.dms.example/")
    values.update(fields)
    return values


def _insert_token(client_pk, account_id, now, n="", **fields) -> int:
    row_id = db.session.execute(insert(OAuthToken.__table__).returning(OAuthToken.id),
                                _token_values(client_pk, account_id, now, n, **fields)).scalar_one()
    db.session.commit()
    return row_id


def _event(now, agent: str = "agent", **details) -> dict:
    return event_values("token.issued", at=now, origin=Origin(ip="203.0.113.7", user_agent=agent),
                        client_id="c-1", grant_type="client_credentials", scope="bench.api",
                        with_refresh=False, **details)


def _count(sql: str) -> int:
    """Counted on a connection of its own (what another request would see: committed rows only)."""
    with db.engine.connect() as other:
        return other.execute(text(sql)).scalar()


def _token_row(**where) -> OAuthToken | None:
    db.session.expire_all()
    return db.session.execute(select(OAuthToken).filter_by(**where)).scalar_one_or_none()


@contextmanager
def _counted(connection):
    """The SQL of every statement ``connection`` sends meanwhile (where every lookup goes: ``execute``)."""
    sent, real = [], connection.execute

    def execute(compiled, params, *, fetch):
        sent.append(compiled.sql)
        return real(compiled, params, fetch=fetch)

    connection.execute = execute
    try:
        yield sent
    finally:
        del connection.execute


def _values(record) -> dict:
    """Every column of a record (JSON decoded, as read)."""
    return {key: getattr(record, key) for key in type(record).keys}


def _entity(model, row_id):
    db.session.expire_all()
    return db.session.get(model, row_id)


def _assert_same(record, entity) -> None:
    """The record has every column of the entity's table, with the values and types the ORM loads."""
    assert set(type(record).keys) == set(type(entity).__table__.columns.keys())
    expected = {attr.key: getattr(entity, attr.key) for attr in inspect(type(entity)).column_attrs}
    got = _values(record)
    assert got == expected
    assert {k: type(v) for k, v in got.items()} == {k: type(v) for k, v in expected.items()}


def _decoded(row: tuple | None) -> tuple | None:
    if row is None:
        return None
    return tuple(value.process(value.raw) if type(value) is Pending else value for value in row)


# -- records: what the ORM loads ---------------------------------------------------------------------------

def test_rows_are_what_sqlalchemy_returns(app, make_account):
    """Every lookup's row (the client, the account, a token with its client and customer, a client with the
    token or code it presents) equals the row SQLAlchemy returns for the same statement, JSON decoded."""
    account_id, client_pk, client_id, now = _setup(app, make_account)
    with app.app_context():
        _insert_token(client_pk, account_id, now)
        _insert_token(client_pk, None, now, "m", refresh_token_hash=None, family_id=None, auth_time=None,
                      amr=None, grant_type="client_credentials")
        _insert_code(client_pk, account_id, now, nonce="n-1")
        cases = [(records._CLIENT_BY_CLIENT_ID, {"client_id": client_id}),
                 (records._ACCOUNT_BY_ID, {"id": account_id}),
                 (records._TOKEN_BY_HASH[False], {"hash": token_hash("a")}),
                 (records._TOKEN_BY_HASH[True], {"hash": token_hash("r")}),
                 (records._TOKEN_BY_HASH[False], {"hash": token_hash("am")}),  # a machine's: no customer
                 (records._CLIENT_AND_TOKEN[False], {"client_id": client_id, "hash": token_hash("a")}),
                 (records._CLIENT_AND_TOKEN[True], {"client_id": client_id, "hash": token_hash("r")}),
                 (records._CLIENT_AND_TOKEN[False], {"client_id": client_id, "hash": token_hash("none")}),
                 (records._CLIENT_AND_CODE, {"client_id": client_id, "hash": token_hash("c")}),
                 (records._CLIENT_AND_CODE, {"client_id": client_id, "hash": None})]
        with _store(app).connect() as connection:
            for statement, params in cases:
                expected = tuple(db.session.execute(statement.statement, params).first())
                assert _decoded(connection.first(statement, params)) == expected, statement.statement
            assert connection.first(records._CLIENT_BY_CLIENT_ID, {"client_id": "nobody"}) is None
            assert connection.all(records._CLIENT_BY_CLIENT_ID, {"client_id": "nobody"}) == []
            [row] = connection.all(records._ACCOUNT_BY_ID, {"id": account_id})
            assert row == connection.first(records._ACCOUNT_BY_ID, {"id": account_id})


def test_records_have_every_column_as_the_orm_loads_it(app, make_account):
    """Each record's columns equal the entity's, of the same types: DateTime a datetime (SQLite keeps text),
    Boolean a bool (SQLite keeps 0 and 1), JSON a list (decoded when first read, not before)."""
    account_id, client_pk, client_id, now = _setup(app, make_account)
    with app.app_context():
        token_id = _insert_token(client_pk, account_id, now, code_id=7, access_revoked_at=now)
        code_id = _insert_code(client_pk, account_id, now, nonce="n-1", code_challenge="x" * 43,
                               code_challenge_method="S256", used_at=now)
        db.session.execute(update(Account.__table__).where(Account.id == account_id)
                           .values(email_verified=True, password_changed_at=now))
        db.session.commit()
        with _store(app).connect() as connection:
            client = records.client(connection, client_id)
            json_columns = [attr.key for attr in inspect(OAuthClient).column_attrs
                            if isinstance(attr.columns[0].type, JSON)]
            assert json_columns  # redirect_uris, scopes …: not decoded until read
            for key in json_columns:
                pending = client.__dict__[key]
                assert type(pending) is Pending and isinstance(pending.raw, str)
            assert client.redirect_uris == ["https://rp.example/cb"]
            assert client.__dict__["redirect_uris"] == ["https://rp.example/cb"]  # decoded once, kept
            assert type(client.__dict__["scopes"]) is Pending  # the others still not
            _assert_same(client, _entity(OAuthClient, client_pk))
            assert type(client.public) is bool and type(client.created_at) is datetime

            account = records.account(connection, account_id)
            _assert_same(account, _entity(Account, account_id))
            assert account.email_verified is True and account.password_changed_at == now
            assert records.account(connection, account_id + 1000) is None

            for refresh, value in ((False, "a"), (True, "r")):
                token = records.token(connection, token_hash(value), refresh=refresh)
                _assert_same(token, _entity(OAuthToken, token_id))
                _assert_same(token.client, _entity(OAuthClient, client_pk))
                _assert_same(token.account, _entity(Account, account_id))
                assert token.access_revoked_at == now and token.revoked_at is None

            _, code = records.client_with_code(connection, client_id, token_hash("c"))
            _assert_same(code, _entity(AuthorizationCode, code_id))
            _assert_same(code.account, _entity(Account, account_id))


def test_a_token_lookup(app, make_account):
    """records.token: by its access or refresh value (never the one for the other), with its client and its
    customer; a machine's token has no customer; an unknown value finds nothing."""
    account_id, client_pk, client_id, now = _setup(app, make_account)
    with app.app_context():
        _insert_token(client_pk, account_id, now)
        _insert_token(client_pk, None, now, "m", refresh_token_hash=None, family_id=None,
                      grant_type="client_credentials")
        with _store(app).connect() as connection:
            found = records.token(connection, token_hash("a"), refresh=False)
            assert (found.client.client_id, found.account.id, found.family_id) == (client_id, account_id, "f")
            assert records.token(connection, token_hash("r"), refresh=True).id == found.id
            assert records.token(connection, token_hash("r"), refresh=False) is None
            assert records.token(connection, token_hash("a"), refresh=True) is None
            assert records.token(connection, token_hash("unknown"), refresh=False) is None
            machine = records.token(connection, token_hash("am"), refresh=False)
            assert machine.account is None and machine.client.id == client_pk
            assert machine.grant_type == "client_credentials"


def test_a_client_fetches_the_token_it_presents_in_the_same_query(app, make_account):
    """client_with_token: one query brings the asking client and the token (its client the same record, its
    customer with it); an unknown token (or none) comes as None beside the client; another client's token
    comes without its client (its ``client_pk`` tells whose); an unknown client brings nothing."""
    account_id, client_pk, client_id, now = _setup(app, make_account)
    with app.app_context():
        other_pk, other_id = _other_client(app, now)
        _insert_token(client_pk, account_id, now)
        _insert_token(other_pk, account_id, now, "o")
        with _store(app).connect() as connection:
            alone = (records.client(connection, client_id),
                     records.token(connection, token_hash("a"), refresh=False))
            with _counted(connection) as sent:
                client, token = records.client_with_token(connection, client_id, token_hash("a"),
                                                          refresh=False)
            assert len(sent) == 1 and "oauth_tokens" in sent[0] and "accounts" in sent[0]
            assert _values(client) == _values(alone[0]) and _values(token) == _values(alone[1])
            assert token.client is client and _values(token.account) == _values(alone[1].account)

            client, token = records.client_with_token(connection, client_id, token_hash("r"), refresh=True)
            assert (client.id, token.id) == (client_pk, alone[1].id)
            assert records.client_with_token(connection, client_id, token_hash("r"), refresh=False)[1] is None

            for missing in (token_hash("unknown"), None):
                client, token = records.client_with_token(connection, client_id, missing, refresh=False)
                assert client.id == client_pk and token is None

            client, token = records.client_with_token(connection, client_id, token_hash("ao"), refresh=False)
            assert client.id == client_pk and token.client is None and token.client_pk == other_pk
            assert token.account.id == account_id
            client, token = records.client_with_token(connection, other_id, token_hash("ao"), refresh=False)
            assert client.id == other_pk and token.client is client

            nobody = records.client_with_token(connection, "nobody", token_hash("a"), refresh=False)
            assert nobody == (None, None)


def test_a_client_fetches_the_code_it_presents_in_the_same_query(app, make_account):
    """client_with_code: one query brings the client and the code with its customer (``account``), equal to
    what the lookups one by one find; an unknown code (or none) comes as None; an unknown client brings
    nothing; another client's code comes with its ``client_pk``, for the caller to refuse."""
    account_id, client_pk, client_id, now = _setup(app, make_account)
    with app.app_context():
        other_pk, other_id = _other_client(app, now)
        code_id = _insert_code(client_pk, account_id, now)
        with _store(app).connect() as connection:
            with _counted(connection) as sent:
                client, code = records.client_with_code(connection, client_id, token_hash("c"))
            assert len(sent) == 1 and "oauth_codes" in sent[0] and "accounts" in sent[0]
            assert _values(client) == _values(records.client(connection, client_id))
            assert code.id == code_id and code.client_pk == client_pk
            assert _values(code.account) == _values(records.account(connection, account_id))
            for missing in (token_hash("not-a-code"), None):
                client, code = records.client_with_code(connection, client_id, missing)
                assert client.id == client_pk and code is None
            assert records.client_with_code(connection, "nobody", token_hash("c")) == (None, None)
            client, code = records.client_with_code(connection, other_id, token_hash("c"))
            assert client.id == other_pk and code.client_pk == client_pk != client.id


@pytest.mark.parametrize("client_id", [None, "", "x" * 65, "rp\x00", "\x00", 42, b"bytes-client"])
def test_a_client_id_that_cannot_name_a_client_is_refused_without_a_query(app, make_account, client_id):
    """PostgreSQL refuses NUL in text (an error, not "no such client"), and no client_id is longer than the
    column: such a value never reaches the database."""
    account_id, client_pk, _, now = _setup(app, make_account)
    with app.app_context():
        _insert_token(client_pk, account_id, now)
        _insert_code(client_pk, account_id, now)
        with _store(app).connect() as connection, _counted(connection) as sent:
            assert records.client(connection, client_id) is None
            for value, refresh in (("a", False), ("r", True)):
                found = records.client_with_token(connection, client_id, token_hash(value), refresh=refresh)
                assert found == (None, None)
            assert records.client_with_code(connection, client_id, token_hash("c")) == (None, None)
        assert sent == []


def test_the_longest_client_id_is_looked_up(app, make_account):
    account_id, _, _, now = _setup(app, make_account)
    with app.app_context():
        longest_pk, longest = _other_client(app, now, client_id="L" * 64)
        _insert_token(longest_pk, account_id, now)
        with _store(app).connect() as connection, _counted(connection) as sent:
            assert records.client(connection, longest).id == longest_pk
            client, token = records.client_with_token(connection, longest, token_hash("a"), refresh=False)
            assert token.client is client and client.id == longest_pk
        assert len(sent) == 2


def test_records_behave_like_their_models(app, make_account):
    """A record's methods and properties are its model's (borrowed, not copied); relationships are not
    loaded; nothing is cached between lookups."""
    account_id, client_pk, client_id, now = _setup(app, make_account)
    with app.app_context():
        code_id = _insert_code(client_pk, account_id, now, nonce="n-1")
        store_ = _store(app)
        entity = _entity(OAuthClient, client_pk)
        with store_.connect() as connection:
            record = records.client(connection, client_id)
            assert record.active and record.client_metadata == entity.client_metadata
            asked = "email profile openid"
            assert record.get_allowed_scope(asked) == entity.get_allowed_scope(asked)
            for grant in ("authorization_code", "refresh_token", "client_credentials", "password"):
                assert record.check_grant_type(grant) == entity.check_grant_type(grant)
            assert record.auth_methods == entity.auth_methods and repr(record) == repr(entity)
            assert record.check_redirect_uri("https://rp.example/cb")
            assert not record.check_redirect_uri("https://x.example/")
            assert type(record).get_allowed_scope is OAuthClient.get_allowed_scope

            account = records.account(connection, account_id)
            assert (account.active, account.login, account.subject) == (True, "rec@example.com",
                                                                        _entity(Account, account_id).subject)
            _, code = records.client_with_code(connection, client_id, token_hash("c"))
            code_entity = _entity(AuthorizationCode, code_id)
            for method in ("get_redirect_uri", "get_scope", "get_nonce", "get_auth_time", "get_amr"):
                assert getattr(code, method)() == getattr(code_entity, method)(), method
            assert code.get_amr() == ["pwd"] and code.get_nonce() == "n-1"
            assert not hasattr(code, "client")  # a relationship: not loaded, nor fetched behind one's back

        entity.disabled_at = now
        db.session.commit()
        with store_.connect() as connection:
            assert records.client(connection, client_id).active is False  # the next lookup sees it


# -- writes ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("microsecond", [0, 123456])
def test_written_rows_are_what_sqlalchemy_writes(app, make_account, microsecond):
    """A token and an event written by the store are, byte for byte, the rows SQLAlchemy writes for the same
    values: dates in SQLite's text keep SQLAlchemy's format (queries compare them as text), with or without
    microseconds; quotes, percent signs, backslashes, Cyrillic and JSON go as they are."""
    account_id, client_pk, _, now = _setup(app, make_account)
    now = now.replace(microsecond=microsecond)
    agent = "Mozilla/5.0 'x'; DROP TABLE t; -- 100% \\ «Полис» \"q\" %(now)s"
    with app.app_context():
        with _store(app).connect() as connection:
            token = _token_values(client_pk, account_id, now, "1")
            counts = connection.transaction([], [store.insert_token(token),
                                                 store.insert_event(_event(now, agent, note="«1» 100%"))])
        assert counts == [1, 1]
        db.session.execute(insert(OAuthToken.__table__), _token_values(client_pk, account_id, now, "2"))
        db.session.execute(insert(AuditEvent.__table__), _event(now, agent, note="«1» 100%"))
        db.session.commit()
        raw = db.session.execute(text(
            "SELECT CAST(issued_at AS TEXT), CAST(access_expires_at AS TEXT), "
            "CAST(refresh_expires_at AS TEXT), CAST(auth_time AS TEXT), scope, amr, grant_type, code_id, "
            "revoked_at, resource FROM oauth_tokens ORDER BY family_id")).all()
        assert len(raw) == 2 and tuple(raw[0]) == tuple(raw[1])
        row = _token_row(family_id="f1")
        assert (row.issued_at, row.auth_time, row.revoked_at) == (now, now - timedelta(seconds=7), None)
        events = db.session.execute(text(
            "SELECT CAST(at AS TEXT), event, client_id, ip, user_agent, CAST(details AS TEXT) "
            "FROM audit_events WHERE event = 'token.issued' ORDER BY id")).all()
        assert len(events) == 2 and tuple(events[0]) == tuple(events[1])
        first = db.session.execute(select(AuditEvent).where(AuditEvent.event == "token.issued")
                                   .order_by(AuditEvent.id)).scalars().first()
        assert (first.at, first.user_agent, first.ip) == (now, agent, "203.0.113.7")
        assert first.details == {"grant_type": "client_credentials", "scope": "bench.api",
                                 "with_refresh": False, "note": "«1» 100%"}


# -- transactions -------------------------------------------------------------------------------------------

def test_a_transaction_commits_and_returns_the_rowcounts_of_the_rest(app, make_account):
    """The revocations' statements (a grant's row or whole family, an access token only, every token of a
    code) count the rows they changed; a row revoked already is not changed again."""
    account_id, client_pk, _, now = _setup(app, make_account)
    later = now + timedelta(minutes=1)
    with app.app_context():
        code_id = _insert_code(client_pk, account_id, now)
        _insert_token(client_pk, account_id, now, "1", family_id="fam", code_id=code_id)
        _insert_token(client_pk, account_id, now, "2", family_id="fam", code_id=code_id)
        _insert_token(client_pk, None, now, "3", family_id=None, refresh_token_hash=None)
        with _store(app).connect() as connection:
            first = records.token(connection, token_hash("a1"), refresh=False)
            alone = records.token(connection, token_hash("a3"), refresh=False)
            assert connection.transaction([], [store.revoke_access(alone, now),
                                               store.revoke_from_code(code_id, now),
                                               store.insert_event(_event(now))]) == [1, 2, 1]
            assert connection.transaction([], [store.revoke_grant(first, later),
                                               store.revoke_access(alone, later),
                                               store.revoke_from_code(code_id, later)]) == [0, 0, 0]
            assert connection.transaction([], [store.revoke_grant(alone, later)]) == [1]
            assert connection.transaction([], [store.revoke_grant(alone, later)]) == [0]
        assert _count("SELECT count(*) FROM audit_events WHERE event = 'token.issued'") == 1
        assert _count("SELECT count(*) FROM oauth_tokens WHERE revoked_at IS NOT NULL") == 3  # seen by others
        lone = _token_row(family_id=None)
        assert (lone.revoked_at, lone.access_revoked_at) == (later, now)
        assert {_token_row(access_token_hash=token_hash(f"a{n}")).revoked_at for n in "12"} == {now}


def test_a_family_is_revoked_together_and_a_lone_row_alone(app, make_account):
    account_id, client_pk, _, now = _setup(app, make_account)
    with app.app_context():
        for n, family in (("1", "fam"), ("2", "fam"), ("3", "other"), ("4", None)):
            _insert_token(client_pk, account_id, now, n, family_id=family)
        with _store(app).connect() as connection:
            second = records.token(connection, token_hash("r2"), refresh=True)
            assert connection.transaction([], [store.revoke_grant(second, now)]) == [2]
            lone = records.token(connection, token_hash("a4"), refresh=False)
            assert connection.transaction([], [store.revoke_grant(lone, now)]) == [1]
        assert _token_row(family_id="other").revoked_at is None


def test_a_checked_spend_commits_with_the_rest(app, make_account):
    account_id, client_pk, client_id, now = _setup(app, make_account)
    with app.app_context():
        code_id = _insert_code(client_pk, account_id, now)
        with _store(app).connect() as connection:
            counts = connection.transaction([store.spend_code(code_id, now)],
                                            [store.insert_token(_token_values(client_pk, account_id, now,
                                                                              code_id=code_id)),
                                             store.insert_event(_event(now))])
            assert counts == [1, 1]
            _, code = records.client_with_code(connection, client_id, token_hash("c"))
            assert code.used_at == now
            token = records.token(connection, token_hash("a"), refresh=False)
            assert token.code_id == code_id
            with pytest.raises(LostRace) as lost:  # spent once only
                connection.transaction([store.spend_code(code_id, now)], [store.insert_event(_event(now))])
            assert lost.value.index == 0
            # A refresh token is spent once as well, and a checked spend alone returns no counts.
            assert connection.transaction([store.spend_refresh(token.id, now)], []) == []
            with pytest.raises(LostRace):
                connection.transaction([store.spend_refresh(token.id, now)], [])
        assert _count("SELECT count(*) FROM audit_events WHERE event = 'token.issued'") == 1
        assert _token_row(code_id=code_id).refresh_used_at == now


def test_a_lost_spend_writes_nothing(app, make_account):
    """A code spent by a concurrent exchange between the lookup and the write: the transaction raises
    LostRace and writes nothing it was given, whatever came before the spend in the request."""
    account_id, client_pk, client_id, now = _setup(app, make_account)
    concurrent = now - timedelta(seconds=1)
    with app.app_context():
        code_id = _insert_code(client_pk, account_id, now)
        with _store(app).connect() as connection:
            _, code = records.client_with_code(connection, client_id, token_hash("c"))
            assert code.used_at is None
            with db.engine.begin() as other:  # a concurrent exchange spends the code first
                other.execute(update(AuthorizationCode.__table__).values(used_at=concurrent))
            with pytest.raises(LostRace) as lost:
                connection.transaction([store.spend_code(code.id, now)],
                                       [store.insert_token(_token_values(client_pk, account_id, now)),
                                        store.insert_event(_event(now))])
            assert lost.value.index == 0 and lost.value.args == (0,)
            assert not connection.in_transaction()
        assert _count("SELECT count(*) FROM oauth_tokens") == 0
        assert _count("SELECT count(*) FROM audit_events WHERE event = 'token.issued'") == 0
        assert _entity(AuthorizationCode, code_id).used_at == concurrent  # the winner's mark stands


def test_the_second_of_two_checked_spends_lost_undoes_the_first(app, make_account):
    """LostRace names the checked statement that matched no row; the ones before it are rolled back."""
    account_id, client_pk, _, now = _setup(app, make_account)
    with app.app_context():
        code_id = _insert_code(client_pk, account_id, now)
        used = _insert_token(client_pk, account_id, now, "u", refresh_used_at=now)
        revoked = _insert_token(client_pk, account_id, now, "v", revoked_at=now)
        with _store(app).connect() as connection:
            for token_id in (used, revoked):  # spent already, or revoked meanwhile
                with pytest.raises(LostRace) as lost:
                    connection.transaction([store.spend_code(code_id, now),
                                            store.spend_refresh(token_id, now)],
                                           [store.insert_event(_event(now))])
                assert lost.value.index == 1
                assert not connection.in_transaction()
        assert _entity(AuthorizationCode, code_id).used_at is None
        assert _count("SELECT count(*) FROM audit_events WHERE event = 'token.issued'") == 0


def test_a_failed_write_rolls_back_and_names_no_value(app, make_account):
    """A database error in the transaction (here a duplicate token hash, after a spend that matched) leaves
    nothing of it written, is raised as SQLAlchemy's exception naming the statement but none of the values
    sent (addresses, user agents), and the connection is left idle (PostgreSQL: still in autocommit mode)
    and kept, ready for the next request."""
    account_id, client_pk, client_id, now = _setup(app, make_account)
    issued = "SELECT count(*) FROM audit_events WHERE event = 'token.issued'"
    with app.app_context():
        _insert_token(client_pk, account_id, now, "1")
        code_id = _insert_code(client_pk, account_id, now)
        store_ = _store(app)
        for checked in ([], [store.spend_code(code_id, now)]):
            with store_.connect() as connection:
                assert records.client(connection, client_id) is not None
                duplicate = _token_values(client_pk, account_id, now, "1", scope="secret.scope")
                with pytest.raises(sa_exc.IntegrityError) as raised:
                    connection.transaction(checked, [store.insert_event(_event(now, "agent-x")),
                                                     store.insert_token(duplicate)])
                message = str(raised.value)
                assert "INSERT INTO oauth_tokens" in message  # what failed (PostgreSQL: the batch)
                assert isinstance(raised.value.orig, connection.dialect.loaded_dbapi.IntegrityError)
                # The values sent are not in it (PostgreSQL's own DETAIL names the duplicate key, as for any
                # statement run through SQLAlchemy).
                for value in ("203.0.113.7", "agent-x", "secret.scope", "bench.api"):
                    assert value not in message
                assert raised.value.hide_parameters and raised.value.params is None
                assert not raised.value.connection_invalidated
                assert not connection.in_transaction() and connection.driver is not None
                if connection.dialect.name == "postgresql":
                    assert connection.driver.autocommit is True
            assert _count(issued) == 0
            assert _entity(AuthorizationCode, code_id).used_at is None
            assert connection in connections._spares[store_.engine].connections  # given back, and kept
        with store_.connect() as connection:  # the next transaction goes through, on the same connection
            spend = store.spend_code(code_id, now)
            assert connection.transaction([spend], [store.insert_event(_event(now))]) == [1]
        assert _count(issued) == 1


def test_a_transaction_interrupted_between_statements_leaves_nothing_open(app, make_account):
    """Not a database error: a statement's values fail to bind (a detail JSON cannot encode) after the
    checked spend was sent. The spend is rolled back, the connection left idle, nothing written."""
    account_id, client_pk, _, now = _setup(app, make_account)
    with app.app_context():
        code_id = _insert_code(client_pk, account_id, now)
        broken = store.insert_event(_event(now, unencodable=object()))
        with _store(app).connect() as connection:
            with pytest.raises(TypeError):
                connection.transaction([store.spend_code(code_id, now)],
                                       [store.insert_event(_event(now)), broken])
            assert not connection.in_transaction()
            assert connection.transaction([], [store.insert_event(_event(now))]) == [1]
        assert _entity(AuthorizationCode, code_id).used_at is None
        assert _count("SELECT count(*) FROM audit_events WHERE event = 'token.issued'") == 1


def test_a_lookup_sees_what_others_committed_since(app, make_account):
    """No read snapshot is held between statements: a token committed by another connection after the
    request's first lookup is found by its next one on the same connection."""
    account_id, client_pk, client_id, now = _setup(app, make_account)
    with app.app_context():
        with _store(app).connect() as connection:
            def presented():
                return records.client_with_token(connection, client_id, token_hash("a"), refresh=False)[1]

            assert presented() is None
            with db.engine.begin() as other:
                other.execute(insert(OAuthToken.__table__), _token_values(client_pk, account_id, now))
            assert presented() is not None
            assert not connection.in_transaction()


def test_concurrent_spends_of_one_code_let_exactly_one_win(app, make_account):
    """Two requests exchanging the same code at once, each on its own connection: one commits its token,
    the other loses the race and writes nothing."""
    account_id, client_pk, _, now = _setup(app, make_account)
    with app.app_context():
        code_id = _insert_code(client_pk, account_id, now)
        store_ = _store(app)
        outcomes, start = [], threading.Barrier(4)

        def exchange(n: str):
            with store_.connect() as connection:
                start.wait(5)
                try:
                    connection.transaction([store.spend_code(code_id, now)],
                                           [store.insert_token(_token_values(client_pk, account_id, now, n))])
                    outcomes.append("won")
                except LostRace:
                    outcomes.append("lost")

        threads = [threading.Thread(target=exchange, args=(str(n),)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert sorted(outcomes) == ["lost", "lost", "lost", "won"]
        assert _count("SELECT count(*) FROM oauth_tokens") == 1


# -- policies ---------------------------------------------------------------------------------------------

def _policy(account_id, number: str, *, state=ATTACHED, start=date(2026, 1, 15), product="life") -> Policy:
    now = datetime(2026, 1, 1)
    return Policy(number=number, kind="individual", product=product, status="active", start_date=start,
                  end_date=start + timedelta(days=364), full_name="Иванов Иван", birth_date=date(1980, 5, 17),
                  fingerprint=number.ljust(64, "0"), state=state, account_id=account_id, source="test",
                  notes=[], received_at=now, updated_at=now)


def test_policies_are_the_accounts_attached_ones_as_claims(app, make_account):
    """store.policies: the account's attached policies only, newest first (then by number), dates as ISO
    text; the same claim values as read through the ORM (idp.policies.claims.claims_for)."""
    account_id, _, _, _ = _setup(app, make_account)
    other = make_account(email="other@example.com").id
    with app.app_context():
        db.session.add_all([_policy(account_id, "LF-1"), _policy(account_id, "DMS-1", start=date(2026, 2, 1),
                                                                   product="dms"),
                            _policy(account_id, "LF-0", start=date(2026, 2, 1)),
                            _policy(account_id, "HELD-1", state=HELD), _policy(other, "OTHER-1"),
                            _policy(None, "NOBODY-1", state=HELD)])
        db.session.commit()
        with _store(app).connect() as connection:
            claims = store.policies(connection, account_id)
            assert store.policies(connection, other) == [
                {"number": "OTHER-1", "kind": "individual", "product": "life", "status": "active",
                 "start_date": "2026-01-15", "end_date": "2027-01-14"}]
            assert store.policies(connection, account_id + 1000) == []
        assert [c["number"] for c in claims] == ["DMS-1", "LF-0", "LF-1"]
        assert claims[0] == {"number": "DMS-1", "kind": "individual", "product": "dms", "status": "active",
                             "start_date": "2026-02-01", "end_date": "2027-01-31"}
        assert claims == claims_for(account_id)
