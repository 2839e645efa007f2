"""``python -m clients.dms_portal.demo``: the provider and the portal together, registered with each other.

One command for a newcomer: it prepares the provider's database and a demo account (``idp init``,
``idp demo``), registers the portal as a first-party client (``idp clients create``, or on later runs
``idp clients update`` + ``rotate-secret``, so the secret is always fresh and never stored), starts the
provider (``idp run``) and serves the portal in this process. Ctrl-C stops both.

It drives the provider only through its ``idp`` command, as an operator would; nothing is imported from
``idp``. Development only: plain http on loopback, the development mailbox instead of e-mail and SMS.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import requests
from werkzeug.serving import run_simple

from clients.dms_portal.app import create_app
from clients.dms_portal.config import PortalConfig

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CLIENT_ID = "dms-portal"
CLIENT_NAME = "ДМС — портал медицинского страхования"
#: Scopes the portal may be granted; it asks for ``policies`` only once the provider offers it.
CLIENT_SCOPES = "openid profile email phone offline_access policies"
DEMO_EMAIL = "demo@example.com"
DEMO_PHONE = "+7 916 123-45-67"

log = logging.getLogger("dms_portal.demo")


class DemoError(RuntimeError):
    """A step of the set-up failed; the message says which and what it printed."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m clients.dms_portal.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="loopback address for both (default: %(default)s)")
    parser.add_argument("--idp-port", type=int, default=5000, help="the provider's port (default: %(default)s)")
    parser.add_argument("--portal-port", type=int, default=5001, help="the portal's port (default: %(default)s)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    issuer = f"http://{args.host}:{args.idp_port}"
    base_url = f"http://{args.host}:{args.portal_port}"
    env = _provider_env(issuer)
    try:
        _idp(env, "init")
        _idp(env, "demo", "--email", DEMO_EMAIL, "--phone", DEMO_PHONE)
        client_id, secret = _register(env, base_url)
    except DemoError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1

    provider = subprocess.Popen([_idp_command(), "run", "--host", args.host, "--port", str(args.idp_port)], env=env)
    try:
        if not _wait_for(issuer + "/.well-known/openid-configuration", provider):
            print(f"demo: the provider did not answer at {issuer}", file=sys.stderr)
            return 1
        portal = create_app(PortalConfig(issuer=issuer, client_id=client_id, client_secret=secret,
                                         secret_key=secrets.token_urlsafe(32), base_url=base_url))
        mailbox = Path(env.get("IDP_MAILBOX_PATH") or Path(env["IDP_INSTANCE_DIR"]) / "mailbox.jsonl")
        print(_banner(base_url, issuer, mailbox), flush=True)
        run_simple(args.host, args.portal_port, portal, threaded=True)
    except KeyboardInterrupt:
        pass
    finally:
        provider.terminate()
        try:
            provider.wait(timeout=10)
        except subprocess.TimeoutExpired:
            provider.kill()
    return 0


def _provider_env(issuer: str) -> dict:
    """The provider's environment: yours, plus the issuer and a secret key that survives restarts.

    The key signs the provider's sessions, keys the client-secret hashes and seals queued messages, so a
    new random key on every run would strand messages queued by the last one. It is kept in the
    (git-ignored) instance folder unless ``IDP_SECRET_KEY`` is set.
    """
    env = dict(os.environ)
    env["IDP_ISSUER"] = issuer
    env.setdefault("IDP_INSTANCE_DIR", str(PROJECT_ROOT / "instance"))
    if not env.get("IDP_SECRET_KEY"):
        key_file = Path(env["IDP_INSTANCE_DIR"]) / "demo_secret_key"
        if not key_file.exists():
            key_file.parent.mkdir(parents=True, exist_ok=True)
            key_file.touch(mode=0o600)
            key_file.write_text(secrets.token_urlsafe(48))
        env["IDP_SECRET_KEY"] = key_file.read_text().strip()
    return env


def _idp_command() -> str:
    beside = Path(sys.executable).with_name("idp")
    found = str(beside) if beside.exists() else shutil.which("idp")
    if not found:
        raise DemoError("the `idp` command is not installed: run `pip install -e .` in the repository")
    return found


def _idp(env: dict, *args: str) -> str:
    result = subprocess.run([_idp_command(), *args], env=env, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise DemoError(f"`idp {' '.join(args)}` failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def _register(env: dict, base_url: str) -> tuple[str, str]:
    """Register the portal, or bring its registration up to date; returns (client_id, a fresh secret)."""
    uris = ["--redirect-uri", base_url + "/callback", "--post-logout-redirect-uri", base_url + "/"]
    exists = subprocess.run([_idp_command(), "clients", "show", CLIENT_ID, "--json"], env=env,
                            capture_output=True, text=True, timeout=120).returncode == 0
    if exists:
        _idp(env, "clients", "update", CLIENT_ID, *uris, "--scope", CLIENT_SCOPES, "--first-party", "--json")
        created = json.loads(_idp(env, "clients", "rotate-secret", CLIENT_ID, "--json"))
    else:
        created = json.loads(_idp(env, "clients", "create", "--client-id", CLIENT_ID, "--name", CLIENT_NAME,
                                  *uris, "--scope", CLIENT_SCOPES, "--first-party", "--json"))
    return created["client_id"], created["client_secret"]


def _wait_for(url: str, process: subprocess.Popen, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.3)
    return False


def _banner(base_url: str, issuer: str, mailbox: Path) -> str:
    return f"""
  ДМС-портал:        {base_url}
  Личный кабинет:    {issuer}

  1. Откройте {base_url} и нажмите «Войти через личный кабинет».
  2. Логин: {DEMO_EMAIL} (или телефон {DEMO_PHONE}); нажмите «Забыли пароль?».
  3. Временный пароль — в журнале провайдера ниже и в файле {mailbox}.
  4. Войдите с ним, задайте постоянный пароль, войдите снова — и вы на портале.
  Остановить: Ctrl-C.
"""


if __name__ == "__main__":
    sys.exit(main())
