"""Issue 25, item 6: the ``idp`` command as an operator runs it — the installed console script in a
subprocess, its settings from ``IDP_*`` variables only: ``--version``, no Flask options that would do
nothing (``--app``, ``--env-file``, ``--debug``), help without building the application, and the commands
that need the application (``init``, ``routes``, ``run``) building it themselves."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from importlib.metadata import version
from pathlib import Path

import pytest

IDP = str(Path(sys.executable).parent / "idp")


def environment(tmp_path: Path, **variables: str) -> dict[str, str]:
    """This process's environment without any IDP_* or FLASK_* setting, the instance in ``tmp_path``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IDP_", "FLASK_"))}
    env.update(IDP_INSTANCE_DIR=str(tmp_path / "instance"), IDP_KEYS_DIR=str(tmp_path / "keys"), **variables)
    return env


def idp(tmp_path: Path, *args: str, **variables: str) -> subprocess.CompletedProcess:
    return subprocess.run([IDP, *args], env=environment(tmp_path, **variables), cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)


def test_version_is_the_package_version(tmp_path):
    done = idp(tmp_path, "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"idp, version {version('idp')}\n"


def test_help_offers_no_flask_options_and_builds_no_application(tmp_path):
    done = idp(tmp_path, "--help")
    assert done.returncode == 0, done.stderr
    options = done.stdout.split("Options:")[1].split("Commands:")[0]
    assert [line.split()[0] for line in options.strip().splitlines()] == ["--version", "--help"]
    for command in ("init", "run", "accounts", "clients", "keys", "db", "deliveries", "support", "routes"):
        assert f"\n  {command} " in done.stdout
    # Building the application would warn that IDP_SECRET_KEY is unset (development) and make the instance.
    assert done.stderr == "" and not (tmp_path / "instance").exists()


@pytest.mark.parametrize("args", [["--app", "x:app", "init"], ["--env-file", ".env", "init"], ["--debug", "init"],
                                  ["run", "--debug"]])
def test_flask_options_are_refused(tmp_path, args):
    done = idp(tmp_path, *args)
    assert done.returncode == 2
    assert f"No such option '{args[0] if args[0] != 'run' else args[1]}'" in done.stderr


def test_commands_build_the_application_from_the_environment(tmp_path):
    done = idp(tmp_path, "init", IDP_SECRET_KEY="s" * 40)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Database ready" in done.stdout and list((tmp_path / "keys").glob("*.jwk.json"))
    routes = idp(tmp_path, "routes", IDP_SECRET_KEY="s" * 40)
    assert routes.returncode == 0, routes.stderr
    assert " /login " in routes.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_run_serves_the_sign_in_page(tmp_path):
    assert idp(tmp_path, "init", IDP_SECRET_KEY="s" * 40).returncode == 0
    port = _free_port()
    server = subprocess.Popen([IDP, "run", "--host", "127.0.0.1", "--port", str(port)], cwd=tmp_path,
                              env=environment(tmp_path, IDP_SECRET_KEY="s" * 40),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=10) as response:
                    status, page = response.status, response.read().decode()
                break
            except (urllib.error.URLError, ConnectionError):
                assert server.poll() is None, server.stdout.read()
                assert time.monotonic() < deadline, "idp run did not answer within 60 s"
                time.sleep(0.2)
        assert status == 200 and "Вход в личный кабинет" in page
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert "Development server for http://127.0.0.1:5000" in output
