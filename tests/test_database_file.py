"""Issue 22, finding 10: the embedded SQLite database is private to the provider's user (mode 0600) —
its file and the side files SQLite makes beside it — however it comes to exist: the app starting on a
new path, ``idp init`` run from the shell, a relative path in the instance folder. These tests use
SQLite files of their own, whatever database the rest of the suite runs on."""
from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from idp.app import create_app
from idp.database_file import prepare_sqlite_file
from idp.extensions import db
from idp.schema import create_schema


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def usual_umask():
    """The umask under which SQLite made its files world-readable (0644), whatever the test runner's is."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def database_files(path: Path) -> dict[str, int]:
    """The database file and its side files (``-wal``, ``-shm``, …) → their modes."""
    return {p.name: mode(p) for p in path.parent.iterdir() if p.name.startswith(path.name)}


def test_the_app_creates_its_sqlite_file_private_before_the_first_connection(settings, clock, tmp_path):
    path = tmp_path / "new" / "folder" / "idp.sqlite3"  # neither the file nor its folder exists yet
    app = create_app(settings.replace(database_url=f"sqlite:///{path}"), clock=clock)
    try:
        assert mode(path) == 0o600 and path.stat().st_size == 0  # made, empty, before anything connected
        with app.app_context():
            create_schema()
            with db.engine.begin() as connection:  # a write: the WAL and its shared memory appear
                connection.execute(text("CREATE TABLE probe (x INTEGER)"))
                connection.execute(text("INSERT INTO probe VALUES (1)"))
            files = database_files(path)
            assert {"idp.sqlite3", "idp.sqlite3-wal", "idp.sqlite3-shm"} <= set(files)
            assert set(files.values()) == {0o600}, files
    finally:
        with app.app_context():
            db.engine.dispose()


def test_a_relative_sqlite_path_is_created_private_in_the_instance_folder(settings, clock, tmp_path):
    app = create_app(settings.replace(database_url="sqlite:///relative.sqlite3"), clock=clock)
    path = Path(settings.instance_dir) / "relative.sqlite3"  # where Flask-SQLAlchemy puts it
    try:
        assert mode(path) == 0o600
        assert not (Path.cwd() / "relative.sqlite3").exists()
    finally:
        with app.app_context():
            db.engine.dispose()


def test_idp_init_from_the_shell_creates_the_database_private(tmp_path):
    path = tmp_path / "instance" / "idp.sqlite3"
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}
    env.update(IDP_DATABASE_URL=f"sqlite:///{path}", IDP_INSTANCE_DIR=str(tmp_path / "instance"),
               IDP_KEYS_DIR=str(tmp_path / "keys"), IDP_SECRET_KEY="s" * 40)
    done = subprocess.run([sys.executable, "-c", "from idp.cli import main; main()", "init"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Database ready" in done.stdout
    files = database_files(path)
    assert "idp.sqlite3" in files and set(files.values()) == {0o600}, files


def test_an_existing_file_is_left_as_it_is_with_a_warning_if_others_can_read_it(tmp_path, caplog):
    path = tmp_path / "idp.sqlite3"
    path.write_bytes(b"")
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="idp.database_file"):
        assert prepare_sqlite_file(str(path)) == path
    assert mode(path) == 0o644
    assert "can be read by other users (mode 644)" in caplog.text
    caplog.clear()
    path.chmod(0o600)
    prepare_sqlite_file(str(path))
    assert caplog.text == ""


def test_the_mode_does_not_depend_on_the_umask(tmp_path):
    os.umask(0o277)  # even one that takes the owner's write bit away
    path = prepare_sqlite_file(str(tmp_path / "idp.sqlite3"))
    assert mode(path) == 0o600


@pytest.mark.parametrize("database", [None, "", ":memory:", "file:idp?mode=memory&cache=shared"])
def test_no_file_for_a_database_in_memory(database, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert prepare_sqlite_file(database) is None
    assert list(tmp_path.iterdir()) == []
