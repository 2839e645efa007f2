"""The Alembic migrations build exactly the schema the models describe, and unwind cleanly."""
import json

from sqlalchemy import inspect, text

from idp import schema
from idp.extensions import db


def empty_database():
    from tests.conftest import empty_database as drop_everything

    drop_everything()
    with db.engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))


def test_upgrade_from_empty_matches_the_models_and_downgrade_empties(app, run_cli):
    with app.app_context():
        empty_database()
        upgraded = run_cli("db", "upgrade", "--json")
        assert upgraded.exit_code == 0, upgraded.output
        head = json.loads(upgraded.output)["revision"]
        assert head and schema.differences() == []
        result = run_cli("db", "check", "--json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.output) == {"matches": True, "differences": []}
        assert json.loads(run_cli("db", "current", "--json").output) == {"revision": head}
        assert json.loads(run_cli("db", "downgrade", "base", "--json").output) == {"revision": None}
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        missing = run_cli("db", "check", "--json")  # an empty database differs from the models
        assert missing.exit_code == 1 and json.loads(missing.output)["matches"] is False
        schema.upgrade()  # and back, for the fixtures' teardown


def test_init_is_safe_to_repeat(app, run_cli):
    with app.app_context():
        empty_database()
        for _ in range(2):
            result = run_cli("init")
            assert result.exit_code == 0, result.output
        assert schema.differences() == []
        report = json.loads(run_cli("init", "--json").output)
        assert report["revision"] == schema.current_revision() and report["key_created"] is None
        assert "password" not in report["database"]


#: The partial indexes (idp.extensions.not_null): index → (table, the column it leaves NULL rows out by).
PARTIAL = {
    "ix_oauth_tokens_account_client": ("oauth_tokens", "account_id"),
    "ix_oauth_tokens_family_id": ("oauth_tokens", "family_id"),
    "ix_oauth_tokens_code_id": ("oauth_tokens", "code_id"),
    "ix_audit_events_account_id": ("audit_events", "account_id"),
    "ix_audit_events_client_id": ("audit_events", "client_id"),
}


def assert_partial_indexes_serve_equality_lookups():
    """Each index leaves out NULL rows, and a lookup by equality on its column uses it (on PostgreSQL with
    sequential scans off, so a plan that cannot use the index shows as one that does not)."""
    postgres = db.engine.dialect.name == "postgresql"
    with db.engine.connect() as connection:
        for name, (table, column) in PARTIAL.items():
            definition = connection.execute(
                text("SELECT indexdef FROM pg_indexes WHERE indexname = :n") if postgres
                else text("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = :n"),
                {"n": name}).scalar()
            bare = (definition or "").replace("(", "").replace(")", "")  # PostgreSQL's: WHERE (x IS NOT NULL)
            assert bare.endswith(f"WHERE {column} IS NOT NULL"), (name, definition)
            value = "'x'" if column in ("family_id", "client_id") else "7"
            query = f"SELECT id FROM {table} WHERE {column} = {{}}".format
            if postgres:
                connection.execute(text("SET LOCAL enable_seqscan = off"))
                plan = "\n".join(connection.execute(text(f"EXPLAIN {query(value)}")).scalars())
                # The hot paths' statements are prepared: the generic plan (a parameter, not a value) too.
                connection.execute(text(f"PREPARE partial_check AS {query('$1')}"))
                connection.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
                generic = connection.execute(text(f"EXPLAIN EXECUTE partial_check({value})")).scalars()
                plan += "\n" + "\n".join(generic)
                connection.execute(text("DEALLOCATE partial_check"))
                assert plan.count(name) == 2, (name, plan)
            else:
                rows = connection.execute(text(f"EXPLAIN QUERY PLAN {query(value)}"))
                plan = " ".join(row[-1] for row in rows)
                assert f"USING INDEX {name}" in plan or f"USING COVERING INDEX {name}" in plan, (name, plan)
        connection.rollback()


def test_token_and_audit_indexes_leave_out_empty_columns_and_still_serve_lookups(app):
    with app.app_context():
        assert_partial_indexes_serve_equality_lookups()  # the models' schema (the tests' databases)
        empty_database()
        schema.upgrade("7c1e2f4a9b3d")  # before the partial indexes: full ones
        with db.engine.begin() as connection:
            connection.execute(text("INSERT INTO audit_events (at, event, details) "
                                    "VALUES ('2026-12-06', 'x', '{}')"))
        schema.upgrade()  # the migration's, with the rows already there
        assert_partial_indexes_serve_equality_lookups()
        assert schema.differences() == []
        with db.engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM audit_events")).scalar() == 1
