"""The Alembic migrations build exactly the schema the models describe, and unwind cleanly."""
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
        assert run_cli("db", "upgrade").exit_code == 0
        assert schema.differences() == []
        result = run_cli("db", "check")
        assert result.exit_code == 0, result.output
        assert run_cli("db", "current", "--json").output.count("revision") == 1
        schema.downgrade("base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        schema.upgrade()  # and back, for the fixtures' teardown


def test_init_is_safe_to_repeat(app, run_cli):
    with app.app_context():
        empty_database()
        for _ in range(2):
            result = run_cli("init")
            assert result.exit_code == 0, result.output
        assert schema.differences() == []
