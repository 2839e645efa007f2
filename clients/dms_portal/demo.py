"""``python -m clients.dms_portal.demo``: the provider and the portal together, registered with each other.

One command for a newcomer, following the seed's story: it prepares the provider's database (``idp
init``), tells it that a ДМС policy was issued (``idp policies issue``), so the customer's account
appears by itself, registers the portal as a first-party client (``idp clients create``, or on later runs
``idp clients update`` + ``rotate-secret``, so the secret is always fresh and never stored), starts the
provider (``idp run``) and serves the portal in this process. Every message the provider "sends" (the
welcome, the temporary password) is printed in the terminal. Ctrl-C stops both.

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
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests
from werkzeug.serving import run_simple

from clients.dms_portal.app import create_app
from clients.dms_portal.config import PortalConfig

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CLIENT_ID = "dms-portal"
CLIENT_NAME = "ДМС — портал медицинского страхования"
#: Scopes the portal may be granted and asks for (``policies``: the customer's policies as a claim).
CLIENT_SCOPES = "openid profile email phone offline_access policies"
DEMO_EMAIL = "demo@example.com"
DEMO_PHONE = "+7 916 123-45-67"
#: The demo policy: sending it again on a later run changes nothing (the number is its key).
DEMO_POLICY = ["--number", "DMS-DEMO-000001", "--kind", "corporate", "--product", "dms",
               "--status", "active", "--name", "Демо Клиент", "--birth-date", "1985-04-12",
               "--email", DEMO_EMAIL, "--phone", DEMO_PHONE,
               "--employer", "ООО «Пример»", "--includes-account"]

log = logging.getLogger("dms_portal.demo")


class DemoError(RuntimeError):
    """A step of the set-up failed; the message says which and what it printed."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m clients.dms_portal.demo",
                                     description="Start the provider and the ДМС portal together, registered "
                                                 "with each other (development only).")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address of both (default: %(default)s)")
    parser.add_argument("--idp-port", type=int, default=5000, help="the provider's port (%(default)s)")
    parser.add_argument("--portal-port", type=int, default=5001, help="the portal's port (%(default)s)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    issuer = f"http://{args.host}:{args.idp_port}"
    base_url = f"http://{args.host}:{args.portal_port}"
    env = _provider_env(issuer)
    mailbox = Path(env.get("IDP_MAILBOX_PATH") or Path(env["IDP_INSTANCE_DIR"]) / "mailbox.jsonl")
    stop = threading.Event()
    threading.Thread(target=_show_new_messages, args=(mailbox, stop), daemon=True).start()
    # `kill` (SIGTERM) stops everything too, like Ctrl-C: the `finally` below takes the provider down.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    provider = None
    try:
        _idp(env, "init")
        year = time.localtime().tm_year
        _idp(env, "policies", "issue", *DEMO_POLICY, "--start", f"{year}-01-01", "--end", f"{year}-12-31")
        client_id, secret = _register(env, base_url)
        run = [_idp_command(), "run", "--host", args.host, "--port", str(args.idp_port)]
        provider = subprocess.Popen(run, env=env)
        if not _wait_for(issuer + "/.well-known/openid-configuration", provider):
            raise DemoError(f"the provider did not answer at {issuer}")
        portal = create_app(PortalConfig(issuer=issuer, client_id=client_id, client_secret=secret,
                                         secret_key=secrets.token_urlsafe(32), base_url=base_url,
                                         scope=CLIENT_SCOPES))
        print(_banner(base_url, issuer, mailbox), flush=True)
        run_simple(args.host, args.portal_port, portal, threaded=True)
    except DemoError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        if provider is not None:
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
    uris = ["--redirect-uri", base_url + "/callback", "--post-logout-redirect-uri", base_url + "/",
            "--backchannel-logout-uri", base_url + "/backchannel-logout",
            "--backchannel-logout-session-required"]
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


def _show_new_messages(mailbox: Path, stop: threading.Event) -> None:
    """Print each message the provider appends to the development mailbox from now on.

    The provider keeps message bodies out of its log (they carry temporary passwords); in this demo the
    terminal is the customer's inbox, so the newcomer needs no second window to read the password.
    """
    offset = mailbox.stat().st_size if mailbox.exists() else 0
    while not stop.wait(0.5):
        try:
            with mailbox.open("rb") as fh:
                if os.fstat(fh.fileno()).st_size < offset:
                    offset = 0  # the file was emptied or replaced
                fh.seek(offset)
                chunk = fh.read()
        except FileNotFoundError:
            continue
        complete = chunk[:chunk.rfind(b"\n") + 1]  # a line still being written waits for the next turn
        offset += len(complete)
        for line in complete.decode("utf-8").splitlines():
            try:
                message = json.loads(line)
            except ValueError:
                continue
            channel = "SMS" if message.get("channel") == "sms" else "Письмо"
            print(f"\n  📨 {channel} для {message.get('to')}: {message.get('subject') or ''}\n"
                  f"  {(message.get('text') or '').strip()}\n", flush=True)


def _banner(base_url: str, issuer: str, mailbox: Path) -> str:
    return f"""
  ДМС-портал:        {base_url}
  Личный кабинет:    {issuer}

  1. Откройте {base_url} и нажмите «Войти через личный кабинет».
  2. Логин: {DEMO_EMAIL} (или телефон {DEMO_PHONE}); нажмите «Забыли пароль?».
  3. Временный пароль придёт сюда, в этот терминал (и в файл {mailbox}).
  4. Войдите с ним, задайте постоянный пароль, войдите снова — и вы на портале.
  Остановить: Ctrl-C.
"""


if __name__ == "__main__":
    sys.exit(main())
