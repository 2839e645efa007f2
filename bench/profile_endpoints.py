"""In-process CPU cost of the provider's endpoints, and a cProfile of one of them (a developer's tool).

    .venv/bin/python bench/profile_endpoints.py [--db sqlite|postgres] [--count 2000] [--profile client_credentials]
                                                [--accounts 100000 --extra-rows 100000]

No gunicorn, no sockets: every request is a WSGI call into the app in this process, its environ built
before the clock starts (werkzeug's ``EnvironBuilder``, as a server would hand it over), so the figures
are the provider's own CPU per request (process time), without the server, the network or a test
client. ``trivial`` is ``bench/trivial_app.py`` measured the same way: the framework's floor. Good for a
quick before/after of a change in a hot path; ``bench/run.py`` is the real measurement (gunicorn adds
roughly the same fixed cost to every endpoint there). ``--profile NAME`` prints a cProfile of that scenario.
"""
from __future__ import annotations

import argparse
import base64
import cProfile
import io
import pstats
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from data import CODE_VERIFIER, PASSWORD, REDIRECT_URI, Store  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--profile", help="scenario to profile with cProfile")
    parser.add_argument("--only", help="comma-separated scenarios to run (no cProfile: for a sampling profiler "
                                       "such as py-spy, whose figures cProfile's overhead does not distort)")
    parser.add_argument("--sort", default="cumulative")
    parser.add_argument("--lines", type=int, default=45)
    parser.add_argument("--dump", help="also write the cProfile statistics to this file (pstats)")
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--accounts", type=int, default=1000, help="accounts in the store (default 1,000)")
    parser.add_argument("--extra-rows", type=int, default=0,
                        help="codes and token rows minted (and left) before measuring, as long runs leave them")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="idp-profile-"))
    if args.db == "postgres":
        from run import PG_URL, drop_postgres, fresh_postgres

        fresh_postgres()
        url = PG_URL
    else:
        url = f"sqlite:///{tmp / 'idp.sqlite3'}"
    env = {"IDP_ENV": "development", "IDP_SECRET_KEY": secrets.token_urlsafe(48), "IDP_DATABASE_URL": url,
           "IDP_ISSUER": "http://127.0.0.1:5000", "IDP_KEYS_DIR": str(tmp / "keys"),
           "IDP_INSTANCE_DIR": str(tmp), "IDP_DELIVERY_MODE": "worker", "IDP_BCRYPT_ROUNDS": "4",
           "IDP_SIGNIN_THRESHOLD": "1000000000", "IDP_IP_THRESHOLD": "1000000000"}
    try:
        store = Store(env)
        store.init()
        client_id, secret = store.create_client()
        store.add_accounts(args.accounts)
        if args.extra_rows:
            store.mint_codes(args.extra_rows, random.Random(2))
            store.mint_tokens(args.extra_rows, random.Random(3))
        store.vacuum_analyze()
        rng = random.Random(1)
        basic = {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}
        n = args.count
        codes = store.mint_codes(n + 10, rng)
        refresh = [r for _, r in store.mint_tokens(n + 10, rng)]
        access = [a for a, _ in store.mint_tokens(200, rng)]
        page = store.app.test_client(use_cookies=False).get("/login")
        import re

        csrf = re.search(rb'name="csrf_token" value="([^"]+)"', page.data).group(1).decode()
        cookie = {"Cookie": page.headers["Set-Cookie"].split(";", 1)[0]}
        logins = store.sample_logins(200, rng)
        from trivial_app import app as trivial_app

        provider = store.app
        # Scenario → (app, how many distinct requests, request i → EnvironBuilder arguments).
        scenarios = {
            "trivial": (trivial_app, 1, lambda i: dict(path="/")),
            "healthz": (provider, 1, lambda i: dict(path="/healthz")),
            "discovery": (provider, 1, lambda i: dict(path="/.well-known/openid-configuration")),
            "jwks": (provider, 1, lambda i: dict(path="/.well-known/jwks.json")),
            "client_credentials": (provider, 1, lambda i: dict(
                path="/oauth/token", method="POST", headers=basic, data={"grant_type": "client_credentials"})),
            "code_exchange": (provider, n + 10, lambda i: dict(path="/oauth/token", method="POST", headers=basic, data={
                "grant_type": "authorization_code", "code": codes[i], "redirect_uri": REDIRECT_URI,
                "code_verifier": CODE_VERIFIER})),
            "refresh": (provider, n + 10, lambda i: dict(path="/oauth/token", method="POST", headers=basic, data={
                "grant_type": "refresh_token", "refresh_token": refresh[i]})),
            "userinfo": (provider, 200, lambda i: dict(path="/oauth/userinfo",
                                                       headers={"Authorization": "Bearer " + access[i]})),
            "introspection": (provider, 200, lambda i: dict(path="/oauth/introspect", method="POST", headers=basic,
                                                            data={"token": access[i]})),
            "signin": (provider, 200, lambda i: dict(path="/login", method="POST", headers=cookie, data={
                "login": logins[i], "password": PASSWORD, "csrf_token": csrf})),
        }
        expected = {"signin": "302"}
        for name, (app, distinct, make) in scenarios.items():
            if (args.profile and name != args.profile) or (args.only and name not in args.only.split(",")):
                continue
            count = n if name != "signin" else min(n, 300)
            requests = [_prepared(make(i)) for i in range(min(distinct, count + 5))]
            want = expected.get(name, "200")

            def call(i, app=app, requests=requests):
                status, body = _call(app, requests[i % len(requests)])
                return status, body

            for i in range(5):  # warm-up; single-use items 0-4 are spent here
                status, body = call(i)
                assert status.startswith(want), (name, status, body[:300])
            offset = 5
            profiler = cProfile.Profile(time.process_time) if args.profile else None
            if profiler:
                profiler.enable()
            # Batches, each timed on its own: the fastest batch is the least disturbed by other processes
            # on a shared machine; the median is shown beside it.
            batches, size = [], max(1, count // args.batches)
            for b in range(args.batches):
                started_cpu = time.process_time()
                for i in range(b * size, (b + 1) * size):
                    status, body = call(offset + i)
                    if not status.startswith(want):
                        raise SystemExit(f"{name}: {status} {body[:300]!r}")
                batches.append((time.process_time() - started_cpu) / size)
            if profiler:
                profiler.disable()
            best, middle = min(batches), statistics.median(batches)
            print(f"{name:<20} {1 / best:8.0f} req/CPU-s  {best * 1e6:7.0f} µs CPU/request (best batch), "
                  f"median {middle * 1e6:7.0f} µs", flush=True)
            if profiler:
                if args.dump:
                    profiler.dump_stats(args.dump)
                pstats.Stats(profiler).strip_dirs().sort_stats(args.sort).print_stats(args.lines)
        store.dispose()
    finally:
        if args.db == "postgres":
            drop_postgres()
        shutil.rmtree(tmp, ignore_errors=True)


def _prepared(arguments: dict) -> tuple[dict, bytes]:
    """The WSGI environ of one request, and its body (a fresh input stream is made for every call)."""
    from werkzeug.test import EnvironBuilder

    builder = EnvironBuilder(**arguments)
    try:
        environ = builder.get_environ()
        body = environ["wsgi.input"].read()
    finally:
        builder.close()
    return environ, body


def _call(app, prepared: tuple[dict, bytes]) -> tuple[str, bytes]:
    environ, body = prepared
    environ = dict(environ)
    environ["wsgi.input"] = io.BytesIO(body)
    answer: list[str] = []

    def start_response(status, headers, exc_info=None):
        answer.append(status)

    iterable = app(environ, start_response)
    try:
        content = b"".join(iterable)
    finally:
        close = getattr(iterable, "close", None)
        if close is not None:
            close()
    return answer[0], content


if __name__ == "__main__":
    main()
