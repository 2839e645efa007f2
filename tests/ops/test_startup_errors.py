"""Issue 25 item 3: start-up that cannot work stops with one line naming the setting and the fix — from the
``idp`` command and from gunicorn's WSGI entry alike, each run as an operator runs it (a subprocess):

* a database driver that is not installed (``IDP_DATABASE_URL=postgresql+pg8000://…``: the same path as
  ``postgresql+psycopg://`` without psycopg, which would take a virtualenv of its own to show);
* a database that does not answer (a closed loopback port);
* a keys directory that cannot be a directory (a path under a regular file), or that is read-only
  (``chattr +i``: the tests run as root, whom permission bits do not stop) when the process must make the
  first signing key itself — and no refusal of a read-only directory that already holds a key (the
  documented read-only mount of the instances).
"""
from __future__ import annotations

import contextlib
import importlib.util
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SECRET = "startup-secret-key-" + "s" * 32
PEPPER = "startup-password-pepper-" + "p" * 32
PREFIX = "idp: configuration error: "

COMMANDS = {
    "idp": [str(BIN / "idp"), "init"],
    "gunicorn": [str(BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), "--no-control-socket",
                 "-b", "127.0.0.1:0", "-w", "1", "idp.wsgi:app"],
}


def start(command: str, tmp_path: Path, *, argv: list[str] | None = None, **variables):
    """``command`` (or ``argv``) with these settings (secret key and pepper set, so development warns of
    nothing), run to its end."""
    env = {"PATH": os.environ["PATH"], "IDP_INSTANCE_DIR": str(tmp_path / "instance"),
           "IDP_KEYS_DIR": str(tmp_path / "keys"), "IDP_SECRET_KEY": SECRET, "IDP_PASSWORD_PEPPER": PEPPER,
           **variables}
    return subprocess.run(argv or COMMANDS[command], env=env, capture_output=True, text=True, timeout=60,
                          cwd=tmp_path)


def refused(result: subprocess.CompletedProcess, code: int = 2) -> str:
    """The one line a refused start printed (and nothing else, no traceback)."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and result.stdout == "", (result.stdout, result.stderr)
    return lines[0]


def closed_port() -> int:
    """A loopback port nobody listens on (bound for a moment, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def read_only(folder: Path):
    """``folder`` made read-only for this process, root included (the immutable attribute); without root,
    the permission bits are enough."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    made = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot make {folder} read-only for root: chattr +i failed ({made.stderr.strip()})")
    try:
        with pytest.raises(OSError):
            (folder / "probe").touch()  # really read-only
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("url, driver, module", [
    ("postgresql+pg8000://idp:db-secret@127.0.0.1:5432/idp", "postgresql+pg8000", "pg8000"),
    ("mysql+mysqldb://idp:db-secret@127.0.0.1/idp", "mysql+mysqldb", "MySQLdb"),
])
def test_a_driver_that_is_not_installed_is_named(tmp_path, command, url, driver, module):
    assert importlib.util.find_spec(module) is None, f"{module} is installed here: pick another driver"
    line = refused(start(command, tmp_path, IDP_DATABASE_URL=url))
    assert line == (f"{PREFIX}IDP_DATABASE_URL names the database driver {driver!r}, but its Python module "
                    f"{module!r} is not installed: install that driver into the provider's Python "
                    f"environment, or use postgresql+psycopg:// with psycopg installed "
                    f"(pip install 'idp[postgres]')")


@pytest.mark.parametrize("command", COMMANDS)
def test_an_unknown_driver_and_a_malformed_url_are_named(tmp_path, command):
    # postgres:// (without "ql"): the alias SQLAlchemy 1.4 dropped, still in some hosting providers' URLs
    line = refused(start(command, tmp_path, IDP_DATABASE_URL="postgres://idp@db/idp"))
    assert line.startswith(f"{PREFIX}IDP_DATABASE_URL names the database driver 'postgres', but SQLAlchemy "
                           f"knows no such database driver: use postgresql+psycopg://")
    line = refused(start(command, tmp_path, IDP_DATABASE_URL="db.example.test:5432/idp"))
    assert line.startswith(f"{PREFIX}IDP_DATABASE_URL is not a database URL: write it as "
                           f"postgresql+psycopg://")


@pytest.mark.parametrize("command", COMMANDS)
def test_a_database_that_does_not_answer_stops_start_up(tmp_path, command):
    port = closed_port()
    url = f"postgresql+psycopg://idp:db-secret@127.0.0.1:{port}/idp"
    line = refused(start(command, tmp_path, IDP_DATABASE_URL=url))
    assert line.startswith(f"{PREFIX}IDP_DATABASE_URL: cannot connect to "
                           f"postgresql+psycopg://idp:***@127.0.0.1:{port}/idp (")  # never the password
    assert "Connection refused" in line
    assert line.endswith("): start the database or correct the host, port, user, password or database name "
                         "in IDP_DATABASE_URL")


@pytest.mark.parametrize("command", COMMANDS)
def test_a_keys_directory_under_a_file_stops_start_up(tmp_path, command):
    (tmp_path / "file").write_text("not a folder")
    keys = tmp_path / "file" / "keys"
    assert refused(start(command, tmp_path, IDP_KEYS_DIR=str(keys))) == (
        f"{PREFIX}IDP_KEYS_DIR={keys} cannot be a directory ({tmp_path / 'file'} is a file): point "
        f"IDP_KEYS_DIR at the folder of the signing keys (created by `idp init`)")
    assert refused(start(command, tmp_path, IDP_KEYS_DIR=str(tmp_path / "file"))) == (
        f"{PREFIX}IDP_KEYS_DIR={tmp_path / 'file'} is not a directory: point IDP_KEYS_DIR at the folder "
        f"of the signing keys (created by `idp init`)")


@pytest.mark.parametrize("command", COMMANDS)
def test_a_read_only_keys_directory_without_a_key_stops_start_up(tmp_path, command):
    """Development makes the first key on first use: a folder it cannot write to would fail the first
    sign-in."""
    keys = tmp_path / "keys"
    with read_only(keys):
        line = refused(start(command, tmp_path))
    assert line.startswith(f"{PREFIX}IDP_KEYS_DIR={keys} is not writable (")
    assert line.endswith(") and holds no signing key to use: make it a directory the user running the "
                         "provider can write to, or create the first key where it is writable (`idp init`)")
    assert list(keys.iterdir()) == []


def test_idp_init_in_production_names_a_keys_directory_it_cannot_write(tmp_path):
    """Production never makes a key on its own, so it starts with an empty read-only folder (another machine
    may run `idp init`); `idp init` here fails on writing the key, in one line."""
    keys = tmp_path / "keys"
    production = {"IDP_ENV": "production", "IDP_ISSUER": "https://lk.example.test",
                  "IDP_DELIVERY_MODE": "worker", "IDP_EMAIL_TRANSPORT": "ses", "IDP_SMS_TRANSPORT": "sns",
                  "AWS_REGION": "eu-central-1"}
    with read_only(keys):
        result = start("idp", tmp_path, **production)
    # The migration's log lines come first, as always; then the one line, no traceback.
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith(f"idp: keys error: cannot create key file {keys}/")
    assert line.endswith(f"(IDP_KEYS_DIR={keys}: make it a directory the user running `idp` can write to)")


def test_a_read_only_keys_directory_with_a_key_is_fine(tmp_path):
    """The instances' read-only mount of the keys (keys/README.md): start-up reads it and finds the key."""
    created = start("idp", tmp_path)
    assert created.returncode == 0, created.stderr
    with read_only(tmp_path / "keys"):
        listed = start("idp", tmp_path, argv=[str(BIN / "idp"), "keys", "list", "--json"])
    assert listed.returncode == 0 and '"signing"' in listed.stdout, (listed.stdout, listed.stderr)
