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
