"""The credential-stuffing flood scenario of ``bench/run.py --flood`` (issue 27, part 4).

A flood of wrong passwords for random logins (accounts of the bench data and unknown ones, mixed), each
request from a random ``X-Forwarded-For`` address out of thousands (the provider runs with
``IDP_TRUSTED_PROXIES=1``, as behind a load balancer), driven by ``wrk`` (``bench/wrk/flood.lua``) at 16 and
then 64 connections; beside it, probes in Python threads, each with its own connections and cookie jar:

* the **returning customer**: a browser that signed in once before the flood and keeps every cookie it was
  given (the provider's device cookie among them) but its session cookie, which is dropped before each
  visit (the session ended, the browser came back); once a second: GET /login, POST /login with the right
  password from a fixed address; success is a redirect anywhere but /login;
* the **new-device customer**: another account, a fresh cookie jar each time, every five seconds from an
  address of its own; a 429 is answered as a person would: wait ``Retry-After`` (at most 10 s), then submit
  the form again *as the 429 page rendered it* (every hidden input of its sign-in form: csrf_token, a second-try
  ``ticket`` if there is one) with the login and password typed again;
* **UserInfo** and **client_credentials** at a steady 20 requests/s each, paced open-loop by the clock.

Phases: an idle baseline (the probes alone), then the flood at 16 connections, then at 64. Every phase is
judged against issue 27's targets (see ``TARGETS``); the report goes to ``flood.json`` and ``flood.md`` in
``--out``. ``bench/README.md`` ("The credential-stuffing flood") describes it.
"""
from __future__ import annotations

import http.client
import json
import math
import os
import random
import re
import socket
import statistics
import subprocess
import threading
import time
import urllib.parse
from html.parser import HTMLParser
from pathlib import Path

from data import PASSWORD, login_of

FLOOD_LUA = str(Path(__file__).resolve().parent / "wrk" / "flood.lua")
WRONG_PASSWORD = "Not-The-Passw0rd"
#: Accounts 0 .. PROBE_ACCOUNTS-1 are the probes' and never appear in the flood: the flood's known logins are
#: other customers' (a probe's own login being stuffed is another scenario: its per-login throttling).
PROBE_ACCOUNTS = 10
RETURNING_LOGIN, NEW_DEVICE_LOGIN = login_of(0), login_of(1)
RETURNING_ADDRESS, NEW_DEVICE_ADDRESS = "203.0.113.10", "203.0.113.20"  # TEST-NET-3
FLOOD_ADDRESSES = 4096   # drawn from 198.18.0.0/15 (RFC 2544's benchmarking range)
FLOOD_ITEMS = 50_000     # (login, address) pairs, cycled by wrk
KNOWN_SHARE = 0.5        # of the flood's logins, accounts that exist
RETURNING_EVERY = 1.0
NEW_DEVICE_EVERY = 5.0
NEW_DEVICE_MAX_TRIES = 3
RETRY_AFTER_CAP = 10.0
STEADY_RATE = 20.0       # UserInfo and client_credentials, requests/s each
#: Threads per endpoint, each with its own keep-alive connection, taking the paced slots in turn (thread k
#: sends requests k, k+16, ...): a request stuck for seconds holds up only its own thread's next slots, and
#: those count from when they were due (see Probes._steady).
STEADY_THREADS = 16
PROBE_TIMEOUT = 35.0     # above gunicorn's 30 s worker timeout
SESSION_COOKIE = re.compile(r"idp_session$")  # idp_session, __Host-idp_session in production
DEVICE_COOKIE = "idp_device"

TARGETS = {
    "returning_success": (1.0, "every sign-in succeeds"),
    "returning_p95_s": (2.0, "p95 ≤ 2 s"),
    "new_device_within_two": (0.90, "≥ 90 % succeed within two tries"),
    "new_device_p95_s": (10.0, "p95 of time to success ≤ 10 s"),
    "steady_p99_ms": (100.0, "p99 ≤ 100 ms, no errors"),
    "no_5xx": (0, "no 5xx anywhere"),
    "no_timeouts": (0, "no WORKER TIMEOUT"),
    "rss_mb": (100.0, "≤ 100 MB per worker"),
}


# -- HTTP ---------------------------------------------------------------------------------------------------

class Jar:
    """A browser's cookies for one host: every Set-Cookie kept (name → value), deletions honoured."""

    def __init__(self):
        self.cookies: dict[str, str] = {}

    def update(self, response: http.client.HTTPResponse) -> None:
        for header in response.msg.get_all("Set-Cookie") or []:
            first, *attributes = header.split(";")
            name, _, value = first.strip().partition("=")
            expired = any(a.strip().lower().startswith("max-age=") and a.strip()[8:].lstrip("-").isdigit()
                          and int(a.strip()[8:]) <= 0 for a in attributes)
            if expired:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value

    def drop(self, pattern: re.Pattern) -> None:
        for name in [n for n in self.cookies if pattern.search(n)]:
            del self.cookies[name]

    def header(self) -> dict:
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}


class Client:
    """One keep-alive connection to the provider, opened again when the server has closed it."""

    def __init__(self, port: int):
        self.port = port
        self.conn: http.client.HTTPConnection | None = None
        self.used = False

    def send(self, method: str, path: str, *, body: str | None = None, headers: dict | None = None,
             jar: Jar | None = None) -> tuple[int, http.client.HTTPResponse, bytes, float]:
        """(status, response, body, seconds from sending to the whole answer read)."""
        headers = dict(headers or {}, **(jar.header() if jar else {}))
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=PROBE_TIMEOUT)
                self.used = False
            started = time.monotonic()
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # A kept-alive connection the server closed while idle (gunicorn's keepalive is 5 s): once
                # more on a new one. On a fresh connection it is an error.
                self.close()
                if attempt == 2 or not self.used:
                    raise
                continue
            except Exception:
                self.close()
                raise
            elapsed = time.monotonic() - started
            self.used = True
            if jar is not None:
                jar.update(response)
            if response.getheader("Connection", "").lower() == "close":
                self.close()
            return response.status, response, data, elapsed
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class _Forms(HTMLParser):
    """The forms of a page: each its action and its inputs (name, type, value)."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self._current: dict | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self._current = {"action": attrs.get("action") or "", "method": (attrs.get("method") or "get").lower(),
                             "inputs": []}
            self.forms.append(self._current)
        elif tag == "input" and self._current is not None:
            self._current["inputs"].append(((attrs.get("name") or ""), (attrs.get("type") or "text").lower(),
                                            attrs.get("value") or ""))

    def handle_endtag(self, tag):
        if tag == "form":
            self._current = None


def signin_form_of(page: bytes) -> tuple[str, dict] | None:
    """The sign-in form of a page (the POST form with a ``password`` input): its action and its hidden
    inputs, as a browser would submit them."""
    parser = _Forms()
    parser.feed(page.decode("utf-8", "replace"))
    for form in parser.forms:
        if form["method"] == "post" and any(name == "password" for name, _, _ in form["inputs"]):
            hidden = {name: value for name, kind, value in form["inputs"] if kind == "hidden" and name}
            return (form["action"] or "/login"), hidden
    return None


def _path(action: str) -> str:
    parsed = urllib.parse.urlsplit(action)
    return (parsed.path or "/login") + (f"?{parsed.query}" if parsed.query else "")


def _signed_in(status: int, response: http.client.HTTPResponse) -> bool:
    if status not in (302, 303):
        return False
    return urllib.parse.urlsplit(response.getheader("Location", "")).path.rstrip("/") != "/login"


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


# -- probes -------------------------------------------------------------------------------------------------

def _sleep_until(t: float) -> None:
    delay = t - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def returning_attempt(port: int, jar: Jar, client: Client) -> dict:
    """One visit of the returning customer: the session cookie gone, every other cookie kept."""
    jar.drop(SESSION_COOKIE)
    out = {"device_cookie": DEVICE_COOKIE in jar.cookies, "ok": False, "post_s": None, "statuses": []}
    xff = {"X-Forwarded-For": RETURNING_ADDRESS}
    try:
        status, _, page, _ = client.send("GET", "/login", headers=xff, jar=jar)
        out["statuses"].append(status)
        form = signin_form_of(page) if status == 200 else None
        if form is None:
            out["error"] = f"GET /login: {status}"
            return out
        action, hidden = form
        body = urllib.parse.urlencode({**hidden, "login": RETURNING_LOGIN, "password": PASSWORD})
        status, response, _, seconds = client.send("POST", _path(action), body=body, headers={**FORM, **xff}, jar=jar)
        out["statuses"].append(status)
        out["post_s"] = seconds
        out["ok"] = _signed_in(status, response)
        if status == 429:
            out["retry_after"] = response.getheader("Retry-After")
    except Exception as exc:  # a timeout, a reset: a failed sign-in
        out["error"] = f"{type(exc).__name__}: {exc}"
    return out


def new_device_attempt(port: int) -> dict:
    """A sign-in from a new browser (no device cookie), answering 429s the way the page asks."""
    jar, client = Jar(), Client(port)
    xff = {"X-Forwarded-For": NEW_DEVICE_ADDRESS}
    out = {"ok": False, "tries": 0, "statuses": [], "waits": [], "tickets": 0, "time_to_success_s": None}
    first_post = None
    try:
        status, _, page, _ = client.send("GET", "/login", headers=xff, jar=jar)
        out["statuses"].append(status)
        form = signin_form_of(page) if status == 200 else None
        while form is not None and out["tries"] < NEW_DEVICE_MAX_TRIES:
            action, hidden = form
            out["tickets"] += "ticket" in hidden
            body = urllib.parse.urlencode({**hidden, "login": NEW_DEVICE_LOGIN, "password": PASSWORD})
            if first_post is None:
                first_post = time.monotonic()
            out["tries"] += 1
            status, response, page, _ = client.send("POST", _path(action), body=body, headers={**FORM, **xff},
                                                    jar=jar)
            out["statuses"].append(status)
            if _signed_in(status, response):
                out["ok"] = True
                out["time_to_success_s"] = time.monotonic() - first_post
                break
            if status != 429 or out["tries"] >= NEW_DEVICE_MAX_TRIES:
                break
            try:
                wait = float(response.getheader("Retry-After", "1"))
            except ValueError:
                wait = 1.0
            wait = min(max(wait, 0.0), RETRY_AFTER_CAP)
            out["waits"].append(wait)
            time.sleep(wait)
            form = signin_form_of(page)  # the form as the 429 page rendered it
        if form is None:
            out["error"] = f"no sign-in form in the {status} page"
    except Exception as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        client.close()
    return out


class Probes:
    """The probes of one phase, running from ``start`` to ``end`` (CLOCK_MONOTONIC)."""

    def __init__(self, port: int, basic: str, access_tokens: list[str], returning_jar: Jar, start: float,
                 end: float):
        self.port, self.basic, self.tokens, self.jar = port, basic, access_tokens, returning_jar
        self.start, self.end = start, end
        self.returning: list[dict] = []
        self.new_device: list[dict] = []
        self.steady: dict[str, list[dict]] = {"userinfo": [], "client_credentials": []}
        self.threads = [threading.Thread(target=self._returning, daemon=True),
                        threading.Thread(target=self._new_device, daemon=True)]
        for name in self.steady:
            for k in range(STEADY_THREADS):
                self.threads.append(threading.Thread(target=self._steady, args=(name, k), daemon=True))

    def run(self) -> None:
        for t in self.threads:
            t.start()

    def join(self) -> None:
        for t in self.threads:
            t.join(timeout=RETRY_AFTER_CAP * NEW_DEVICE_MAX_TRIES + PROBE_TIMEOUT * 4)

    def _returning(self) -> None:
        client, t = Client(self.port), self.start
        while t < self.end:
            _sleep_until(t)
            self.returning.append(returning_attempt(self.port, self.jar, client))
            t = max(t + RETURNING_EVERY, time.monotonic())
        client.close()

    def _new_device(self) -> None:
        # One attempt every five seconds by the clock, each in a thread of its own: an attempt that waits out a
        # 429 (up to 10 s, and a second try) does not delay the next.
        attempts, t = [], self.start + 0.5
        while t < self.end:
            _sleep_until(t)
            attempt = threading.Thread(target=lambda: self.new_device.append(new_device_attempt(self.port)),
                                       daemon=True)
            attempt.start()
            attempts.append(attempt)
            t += NEW_DEVICE_EVERY
        for attempt in attempts:
            attempt.join(timeout=RETRY_AFTER_CAP * NEW_DEVICE_MAX_TRIES + PROBE_TIMEOUT * 4)

    def _steady(self, name: str, k: int) -> None:
        client, i, out = Client(self.port), k, self.steady[name]
        while True:
            due = self.start + i / STEADY_RATE
            if due >= self.end:
                break
            _sleep_until(due)
            lag = time.monotonic() - due
            # Open loop: a request's latency counts from when it was due, so a slot its thread could not send
            # on time (the previous answer of that connection was late) is charged the wait, as a client's
            # pool would see it; ``service_s`` is the answer's own time, from sending it.
            try:
                if name == "userinfo":
                    status, _, _, seconds = client.send(
                        "GET", "/oauth/userinfo",
                        headers={"Authorization": "Bearer " + self.tokens[i % len(self.tokens)]})
                else:
                    status, _, _, seconds = client.send(
                        "POST", "/oauth/token", body="grant_type=client_credentials",
                        headers={**FORM, "Authorization": self.basic})
                out.append({"status": status, "s": time.monotonic() - due, "service_s": seconds, "lag_s": lag})
            except Exception as exc:
                out.append({"status": None, "s": None, "service_s": None, "lag_s": lag,
                            "error": f"{type(exc).__name__}: {exc}"})
            i += STEADY_THREADS
        client.close()


# -- the scenario -------------------------------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile; ``math.inf`` stands for a failure (never succeeded, no answer)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def _ms(value: float | None) -> float | None:
    return None if value is None else (math.inf if value == math.inf else round(value * 1000, 1))


def flood_items(path: Path, accounts: int, rng: random.Random) -> dict:
    numbers = rng.sample(range(2 ** 17), FLOOD_ADDRESSES)
    addresses = [f"198.{18 + (n >> 16)}.{(n >> 8) & 255}.{n & 255}" for n in numbers]
    known = 0
    lines = []
    for _ in range(FLOOD_ITEMS):
        if rng.random() < KNOWN_SHARE:
            login = login_of(rng.randrange(PROBE_ACCOUNTS, accounts))
            known += 1
        else:
            login = f"nobody{rng.randrange(10 ** 7):07d}@flood.example.net"
        lines.append(f"{urllib.parse.quote(login, safe='')}\t{rng.choice(addresses)}")
    path.write_text("\n".join(lines) + "\n")
    return {"pairs": FLOOD_ITEMS, "addresses": FLOOD_ADDRESSES, "known_share": round(known / FLOOD_ITEMS, 3),
            "known_logins": accounts - PROBE_ACCOUNTS}


def _bench_class(R):
    class FloodBench(R.Bench):
        def adjust_env(self, env: dict) -> None:
            # Sign-in throttling as the provider ships it (the other scenarios raise it: their load comes from
            # one address); the client's address from X-Forwarded-For, as behind one load balancer.
            for key in [k for k in env if k.startswith(("IDP_SIGNIN_", "IDP_IP_", "IDP_RESET_"))]:
                del env[key]
            env["IDP_TRUSTED_PROXIES"] = "1"

    return FloodBench


class Flood:
    def __init__(self, R, kind: str, cfg, wrk: str, rng: random.Random):
        self.R, self.kind, self.cfg, self.wrk, self.rng = R, kind, cfg, wrk, rng
        self.bench = _bench_class(R)(kind, cfg, wrk, rng)
        self.provider = self.bench.provider
        self.log_path = self.provider.log_path

    def setup(self) -> None:
        b, R = self.bench, self.R
        b.prepare(self.cfg.flood_accounts)
        self.basic = b.basic
        self.workers_at_start = R.children(self.provider.proc.pid)
        R.log(f"[flood {self.kind}] provider on :{self.provider.port} (pid {self.provider.proc.pid}, workers "
              f"{self.workers_at_start}), log {self.log_path}")
        self.cookie, self.csrf = R.signin_form(self.provider)
        self.items_path = b.work / "flood-items.txt"
        self.items = flood_items(self.items_path, self.cfg.flood_accounts, self.rng)
        # Access tokens for UserInfo (900 s lifetime: minted again before each phase).
        # The returning customer signs in once before anything else, keeping every cookie it gets.
        self.jar = Jar()
        first = returning_attempt(self.provider.port, self.jar, Client(self.provider.port))
        self.first_signin = {**first, "cookies": sorted(self.jar.cookies)}
        R.log(f"[flood {self.kind}] the returning customer's first sign-in: ok={first['ok']} statuses "
              f"{first['statuses']}, cookies kept {sorted(self.jar.cookies)}"
              + ("" if DEVICE_COOKIE in self.jar.cookies else f" (no {DEVICE_COOKIE} cookie was set)"))
        if not first["ok"]:
            raise RuntimeError(f"the returning customer's first sign-in failed: {first}")
        status, _, body = R.request("POST", self.provider.port, "/oauth/token", body="grant_type=client_credentials",
                                    headers={**FORM, "Authorization": self.basic})
        assert status == 200, (status, body[:300])

    def phase(self, name: str, connections: int, duration: float) -> dict:
        R, port = self.R, self.provider.port
        tokens = [a for a, _ in self.bench.store.mint_tokens(500, self.rng)]
        log_offset = self.log_path.stat().st_size
        lead, tail = (1.5, 1.0) if connections else (0.0, 0.0)
        start = time.monotonic() + 0.5 + lead
        end = start + duration
        proc = out_file = None
        if connections:
            out_file = self.bench.work / f"flood-{name}.json"
            out_file.unlink(missing_ok=True)
            total = int(lead + 0.5 + duration + tail + 0.999)
            env = dict(os.environ, FLOOD_ITEMS=str(self.items_path), FLOOD_COOKIE=self.cookie,
                       FLOOD_CSRF=urllib.parse.quote(self.csrf, safe=""),
                       FLOOD_PASSWORD=urllib.parse.quote(WRONG_PASSWORD, safe=""),
                       FLOOD_THREADS=str(self.cfg.threads), FLOOD_OUT=str(out_file),
                       FLOOD_WINDOW=f"{start:.6f} {end:.6f}")
            proc = subprocess.Popen([self.wrk, f"-t{self.cfg.threads}", f"-c{connections}", f"-d{total}s",
                                     "--timeout", "30s", "-s", FLOOD_LUA, f"http://127.0.0.1:{port}"],
                                    env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        probes = Probes(port, self.basic, tokens, self.jar, start, end)
        probes.run()
        rss: dict[int, float] = {}
        _sleep_until(start)
        cpu0, busy0 = self.provider.cpu(), R.machine_busy_seconds()
        while time.monotonic() < end:
            for pid in R.children(self.provider.proc.pid):
                m = R.memory_mb(pid)
                if m:
                    rss[pid] = max(rss.get(pid, 0.0), m["rss"])
            time.sleep(min(1.0, max(0.0, end - time.monotonic())))
        cpu1, busy1 = self.provider.cpu(), R.machine_busy_seconds()
        flood = None
        if proc is not None:
            stdout, stderr = proc.communicate(timeout=total + 60)
            if proc.returncode != 0 or not out_file.exists():
                raise RuntimeError(f"wrk failed ({proc.returncode}): {stderr or stdout}")
            flood = json.loads(out_file.read_text())
        probes.join()
        drain = self.provider.wait_idle(timeout=60)
        with open(self.log_path, "rb") as f:
            f.seek(log_offset)
            log_text = f.read().decode("utf-8", "replace")
        result = self.summarise(name, connections, duration, probes, flood, rss, log_text)
        result.update(server_cpu_share=round((cpu1 - cpu0) / duration / R.CORES, 3),
                      machine_busy_share=round((busy1 - busy0) / duration / R.CORES, 3),
                      drain_seconds=round(drain, 1))
        result["checks"] = judge(result)
        self.log_phase(result)
        return result

    def summarise(self, name, connections, duration, probes: Probes, flood, rss, log_text) -> dict:
        fives = 0
        ret = probes.returning
        ret_lat = [a["post_s"] if a["post_s"] is not None else math.inf for a in ret]
        fives += sum(1 for a in ret for s in a["statuses"] if s >= 500)
        returning = {
            "n": len(ret), "ok": sum(a["ok"] for a in ret),
            "success": round(sum(a["ok"] for a in ret) / len(ret), 4) if ret else None,
            "p50_ms": _ms(percentile(ret_lat, 50)), "p95_ms": _ms(percentile(ret_lat, 95)),
            "with_device_cookie": sum(a["device_cookie"] for a in ret),
            "failures": _tally(f"{a['statuses']}" + (f" {a['error']}" if a.get("error") else "")
                               for a in ret if not a["ok"]),
        }
        nd = probes.new_device
        fives += sum(1 for a in nd for s in a["statuses"] if s >= 500)
        tts = [a["time_to_success_s"] if a["ok"] else math.inf for a in nd]
        new_device = {
            "n": len(nd),
            "first_try": round(sum(a["ok"] and a["tries"] == 1 for a in nd) / len(nd), 4) if nd else None,
            "within_two": round(sum(a["ok"] and a["tries"] <= 2 for a in nd) / len(nd), 4) if nd else None,
            "ok": sum(a["ok"] for a in nd),
            "p50_ms": _ms(percentile(tts, 50)), "p95_ms": _ms(percentile(tts, 95)),
            "answered_429": sum(429 in a["statuses"] for a in nd),
            "with_ticket": sum(a["tickets"] > 0 for a in nd),
            "paths": _tally(f"{a['statuses']}" + (f" {a['error']}" if a.get("error") else "") for a in nd),
        }
        steady = {}
        for key, rows in probes.steady.items():
            lat = [r["s"] if r["status"] == 200 else math.inf for r in rows]
            answered = [r["service_s"] for r in rows if r["service_s"] is not None]
            fives += sum(1 for r in rows if r["status"] and r["status"] >= 500)
            steady[key] = {
                "n": len(rows), "errors": sum(r["status"] != 200 for r in rows),
                "error_kinds": _tally(str(r["status"]) if r["status"] else r.get("error", "?")
                                      for r in rows if r["status"] != 200),
                "p50_ms": _ms(percentile(lat, 50)), "p95_ms": _ms(percentile(lat, 95)),
                "p99_ms": _ms(percentile(lat, 99)),
                "service_p99_ms": _ms(percentile(answered, 99)),
                "max_service_ms": _ms(max(answered)) if answered else None,
                "max_send_lag_ms": _ms(max((r["lag_s"] for r in rows), default=None)),
            }
        flood_out = None
        if flood is not None:
            statuses = {k: int(v) for k, v in flood["statuses"].items()}
            window = {k: int(v) for k, v in flood["window_statuses"].items()}
            fives += sum(v for k, v in statuses.items() if int(k) >= 500)
            lat = flood["latency_us"]
            flood_out = {
                "connections": connections, "requests": flood["requests"], "statuses": statuses,
                "window_statuses": window,
                "window_rate": {k: round(v / duration, 1) for k, v in sorted(window.items())},
                "window_total_rate": round(sum(window.values()) / duration, 1),
                "socket_errors": {k: v for k, v in flood["errors"].items() if k != "status" and v},
                "p50_ms": lat["p50"] / 1000, "p99_ms": lat["p99"] / 1000, "max_ms": lat["max"] / 1000,
            }
        booted = len(re.findall(r"Booting worker", log_text))
        return {
            "phase": name, "connections": connections, "seconds": duration,
            "returning": returning, "new_device": new_device, "steady": steady, "flood": flood_out,
            "five_xx": fives, "worker_timeouts": len(re.findall(r"WORKER TIMEOUT", log_text)),
            "workers_booted": booted,
            "error_log_lines": [line for line in log_text.splitlines()
                                if re.search(r"\[(ERROR|CRITICAL)\]|Traceback|WORKER TIMEOUT", line)][:20],
            "rss_mb": {str(pid): round(v, 1) for pid, v in sorted(rss.items())},
            "max_rss_mb": round(max(rss.values()), 1) if rss else None,
        }

    def log_phase(self, r: dict) -> None:
        for line in phase_lines(r):
            self.R.log(f"[flood {self.kind}] {line}")

    def run(self) -> dict:
        cfg = self.cfg
        self.setup()
        phases = [self.phase("idle", 0, cfg.flood_idle)]
        for c in cfg.flood_connections:
            phases.append(self.phase(f"flood@{c}", c, cfg.flood_duration))
        return {"database": self.kind, "accounts": cfg.flood_accounts, "flood_items": self.items,
                "first_signin": self.first_signin, "phases": phases,
                "workers_at_start": self.workers_at_start,
                "provider_log": str(self.log_path) if cfg.keep else None}

    def close(self) -> None:
        self.bench.close()


def _tally(values) -> dict:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


def judge(r: dict) -> list[dict]:
    """The issue's targets, each a check with its measured value and a verdict."""
    checks = []

    def check(what, measured, target, ok):
        checks.append({"check": what, "measured": measured, "target": target,
                       "result": "n/a" if ok is None else ("PASS" if ok else "FAIL")})

    ret, nd = r["returning"], r["new_device"]
    check("returning customer: every sign-in succeeds", f"{ret['ok']}/{ret['n']}",
          TARGETS["returning_success"][1], ret["n"] > 0 and ret["ok"] == ret["n"])
    check("returning customer: p95", ret["p95_ms"], TARGETS["returning_p95_s"][1],
          ret["p95_ms"] is not None and ret["p95_ms"] <= TARGETS["returning_p95_s"][0] * 1000)
    check("new-device customer: within two tries", nd["within_two"], TARGETS["new_device_within_two"][1],
          None if not nd["n"] else nd["within_two"] >= TARGETS["new_device_within_two"][0])
    check("new-device customer: p95 time to success", nd["p95_ms"], TARGETS["new_device_p95_s"][1],
          None if not nd["n"] else nd["p95_ms"] <= TARGETS["new_device_p95_s"][0] * 1000)
    for key, label in (("userinfo", "UserInfo"), ("client_credentials", "client_credentials")):
        s = r["steady"][key]
        check(f"{label}: p99, errors", f"{s['p99_ms']} ms, {s['errors']} errors", TARGETS["steady_p99_ms"][1],
              s["n"] > 0 and s["errors"] == 0 and s["p99_ms"] <= TARGETS["steady_p99_ms"][0])
    check("5xx answers", r["five_xx"], TARGETS["no_5xx"][1], r["five_xx"] == 0)
    check("worker timeouts", r["worker_timeouts"], TARGETS["no_timeouts"][1], r["worker_timeouts"] == 0)
    check("max RSS per worker (MB)", r["max_rss_mb"], TARGETS["rss_mb"][1],
          r["max_rss_mb"] is not None and r["max_rss_mb"] <= TARGETS["rss_mb"][0])
    return checks


def _f(value, unit: str = "") -> str:
    if value is None:
        return "–"
    if value == math.inf:
        return "never (failures)"
    if isinstance(value, float):
        return f"{value:,.1f}{unit}"
    return f"{value}{unit}"


def _pct(value) -> str:
    return "–" if value is None else f"{value:.0%}"


def phase_lines(r: dict) -> list[str]:
    ret, nd, fl = r["returning"], r["new_device"], r["flood"]
    lines = [f"{r['phase']}: {r['seconds']:.0f} s, server {r['server_cpu_share']:.0%} of the cores, machine "
             f"{r['machine_busy_share']:.0%}, drain {r['drain_seconds']} s"]
    if fl:
        lines.append(f"  flood: {fl['window_total_rate']}/s answered in the window, by status "
                     f"{fl['window_rate']} /s; whole run {fl['statuses']}; socket errors {fl['socket_errors'] or 0}; "
                     f"p50 {fl['p50_ms']:.0f} ms p99 {fl['p99_ms']:.0f} ms")
    lines.append(f"  returning: n={ret['n']} ok {_pct(ret['success'])} p50 {_f(ret['p50_ms'], ' ms')} "
                 f"p95 {_f(ret['p95_ms'], ' ms')} (device cookie held in {ret['with_device_cookie']}) "
                 f"{ret['failures'] or ''}")
    lines.append(f"  new device: n={nd['n']} first try {_pct(nd['first_try'])} within two {_pct(nd['within_two'])} "
                 f"time to success p50 {_f(nd['p50_ms'], ' ms')} p95 {_f(nd['p95_ms'], ' ms')}; 429 in "
                 f"{nd['answered_429']}, ticket in {nd['with_ticket']}; {nd['paths']}")
    for key, s in r["steady"].items():
        lines.append(f"  {key}: n={s['n']} errors {s['errors']} {s['error_kinds'] or ''} p50 {_f(s['p50_ms'])} "
                     f"p95 {_f(s['p95_ms'])} p99 {_f(s['p99_ms'])} ms from due time (service p99 "
                     f"{_f(s['service_p99_ms'])} max {_f(s['max_service_ms'])} ms, max send lag "
                     f"{_f(s['max_send_lag_ms'])} ms)")
    lines.append(f"  5xx {r['five_xx']}, worker timeouts {r['worker_timeouts']}, max RSS per worker "
                 f"{r['rss_mb']} MB")
    for c in r["checks"]:
        lines.append(f"  {c['result']:<4} {c['check']}: {c['measured']} (target {c['target']})")
    return lines


def _finite(value):
    """JSON without Infinity: a percentile that fell on a failure is "never"."""
    if isinstance(value, float) and math.isinf(value):
        return "never"
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def write_report(report: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "flood.json").write_text(json.dumps(_finite(report), indent=1) + "\n")
    m = report["meta"]
    lines = ["# Credential-stuffing flood (issue 27)", "",
             f"Started {m['started']}, code {m['code']}"
             + (f" (the provider's files not committed: {', '.join(c.strip() for c in m['code_changes'])})"
                if m.get("code_changes") else " (the provider's files as committed)") + f", {m['cores']} cores ({m['cpu']}), machine speed "
             f"{m['machine_speed']}; bcrypt cost {m['bcrypt_rounds']}; {m['gunicorn']}; provider env "
             "`IDP_TRUSTED_PROXIES=1`, default sign-in throttling. Load generator: "
             f"{m['load_generator']}. Probes: Python threads in the benchmark process. Shared machine: figures "
             "are noisy.", "",
             f"Flood: POST /login with a wrong password, {m['flood']['known_share']:.0%} of the logins existing "
             f"accounts ({m['flood']['known_logins']:,} of them), the rest unknown; each from one of "
             f"{m['flood']['addresses']:,} X-Forwarded-For addresses ({m['flood']['pairs']:,} pairs cycled). "
             "Returning customer: one sign-in a second with the cookies of an earlier sign-in (its session "
             "cookie dropped). New-device customer: a fresh browser every 5 s (each attempt on its own), a 429 answered after its "
             f"Retry-After (≤ {RETRY_AFTER_CAP:.0f} s) with the 429 page's form, up to {NEW_DEVICE_MAX_TRIES} "
             f"tries. UserInfo and client_credentials: {STEADY_RATE:.0f} requests/s each, paced open-loop over "
             f"{STEADY_THREADS} connections each, latency from when each request was due. Latency percentiles "
             "count a failure as never (shown as such).", ""]
    for db in report["databases"]:
        lines += [f"## {db['database']}", "",
                  f"The returning customer's first sign-in: statuses {db['first_signin']['statuses']}, cookies "
                  f"kept {', '.join(db['first_signin']['cookies'])}.", "",
                  "| phase | returning n | ok | p50 ms | p95 ms | new-device n | 1st try | ≤ 2 tries | p50 ms | "
                  "p95 ms | UserInfo n / err | p50 / p95 / p99 ms | client_credentials n / err | p50 / p95 / p99 ms "
                  "| 5xx | worker timeouts | max RSS/worker MB |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
                  "| ---: | ---: | ---: |"]
        for r in db["phases"]:
            ret, nd, u, cc = r["returning"], r["new_device"], r["steady"]["userinfo"], r["steady"]["client_credentials"]
            lines.append(
                f"| {r['phase']} | {ret['n']} | {_pct(ret['success'])} | {_f(ret['p50_ms'])} | {_f(ret['p95_ms'])} | "
                f"{nd['n']} | {_pct(nd['first_try'])} | {_pct(nd['within_two'])} | {_f(nd['p50_ms'])} | "
                f"{_f(nd['p95_ms'])} | {u['n']} / {u['errors']} | {_f(u['p50_ms'])} / {_f(u['p95_ms'])} / "
                f"{_f(u['p99_ms'])} | {cc['n']} / {cc['errors']} | {_f(cc['p50_ms'])} / {_f(cc['p95_ms'])} / "
                f"{_f(cc['p99_ms'])} | {r['five_xx']} | {r['worker_timeouts']} | {_f(r['max_rss_mb'])} |")
        lines += ["", "Flood answers (inside the measured window; rates per second):", "",
                  "| phase | answers/s | by status (/s) | whole run by status | socket errors | p50 / p99 ms | "
                  "server CPU | machine busy |", "| --- | ---: | --- | --- | --- | ---: | ---: | ---: |"]
        for r in db["phases"]:
            fl = r["flood"]
            if fl is None:
                lines.append(f"| {r['phase']} | – | – | – | – | – | {r['server_cpu_share']:.0%} | "
                             f"{r['machine_busy_share']:.0%} |")
                continue
            lines.append(f"| {r['phase']} | {fl['window_total_rate']} | "
                         f"{', '.join(f'{k}: {v}' for k, v in fl['window_rate'].items())} | "
                         f"{', '.join(f'{k}: {v}' for k, v in sorted(fl['statuses'].items()))} | "
                         f"{fl['socket_errors'] or 0} | {fl['p50_ms']:.0f} / {fl['p99_ms']:.0f} | "
                         f"{r['server_cpu_share']:.0%} | {r['machine_busy_share']:.0%} |")
        lines += ["", "Details: returning failures, new-device paths (statuses of each try → count), errors:", ""]
        for r in db["phases"]:
            lines.append(f"- {r['phase']}: returning failures {r['returning']['failures'] or 'none'}; new device "
                         f"{r['new_device']['paths']} (429 in {r['new_device']['answered_429']}, ticket in "
                         f"{r['new_device']['with_ticket']}); UserInfo errors "
                         f"{r['steady']['userinfo']['error_kinds'] or 'none'}, client_credentials errors "
                         f"{r['steady']['client_credentials']['error_kinds'] or 'none'}; UserInfo / "
                         f"client_credentials p99 from sending (not due) {_f(r['steady']['userinfo']['service_p99_ms'])}"
                         f" / {_f(r['steady']['client_credentials']['service_p99_ms'])} ms, max send lag "
                         f"{_f(r['steady']['userinfo']['max_send_lag_ms'])} / "
                         f"{_f(r['steady']['client_credentials']['max_send_lag_ms'])} ms; RSS per worker "
                         f"{r['rss_mb']} MB; workers booted {r['workers_booted']}"
                         + (f"; log: {r['error_log_lines'][:3]}" if r["error_log_lines"] else ""))
        lines += ["", "| phase | check | measured | target | result |", "| --- | --- | --- | --- | --- |"]
        for r in db["phases"]:
            for c in r["checks"]:
                lines.append(f"| {r['phase']} | {c['check']} | {_f(c['measured'])} | {c['target']} | {c['result']} |")
        lines.append("")
    failed = [(db["database"], r["phase"], c["check"]) for db in report["databases"] for r in db["phases"]
              for c in r["checks"] if c["result"] == "FAIL"]
    lines += ["## Verdict", ""]
    lines += ([f"{len(failed)} check(s) missed:", ""] + [f"- {d} {p}: {c}" for d, p, c in failed]
              if failed else ["Every target met."])
    (out / "flood.md").write_text("\n".join(lines) + "\n")


def _changes(R) -> list[str]:
    """The provider's files that differ from the commit measured (an engineer's work in progress)."""
    try:
        return subprocess.run(["git", "status", "--porcelain", "--", "idp", "templates", "gunicorn.conf.py"],
                              cwd=R.ROOT, capture_output=True, text=True, check=True).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return []


def main(R, cfg, wrk: str) -> None:
    """``bench/run.py --flood``: R is run.py's module (servers, data, measurement helpers)."""
    from idp.settings import Settings
    import gunicorn

    started = R.datetime.now(R.timezone.utc)
    speed = R.calibrate()
    R.log(f"machine speed: {speed}")
    wrk_version = subprocess.run([wrk, "--version"], capture_output=True, text=True).stdout.split("[")[0].strip()
    report = {"meta": {
        "started": started.strftime("%Y-%m-%d %H:%M UTC"), "code": R.code_version(), "code_changes": _changes(R),
        "cores": R.CORES,
        "cpu": R.cpu_model(), "python": R.platform.python_version(), "machine_speed": speed,
        "bcrypt_rounds": cfg.bcrypt_rounds or Settings().bcrypt_rounds,
        "gunicorn": f"gunicorn {gunicorn.__version__}, the project's gunicorn.conf.py (gthread; workers: "
                    f"{os.environ.get('BENCH_GUNICORN_WORKERS', R.CORES)})",
        "load_generator": f"{wrk_version}, {cfg.threads} threads, on the same {R.CORES} cores",
        "idle_seconds": cfg.flood_idle, "flood_seconds": cfg.flood_duration,
        "flood_connections": cfg.flood_connections, "targets": {k: v[1] for k, v in TARGETS.items()},
    }, "databases": []}
    rng = random.Random(2027)
    kinds = ["sqlite", "postgres"] if cfg.db == "both" else [cfg.db]
    for kind in kinds:
        flood = Flood(R, kind, cfg, wrk, rng)
        try:
            result = flood.run()
        finally:
            flood.close()
        report["meta"]["flood"] = result["flood_items"]
        report["databases"].append(result)
    report["meta"]["elapsed_minutes"] = round((time.monotonic() - R._T0) / 60, 1)
    write_report(report, Path(cfg.out))
    R.log(f"wrote {Path(cfg.out) / 'flood.md'} and flood.json ({report['meta']['elapsed_minutes']} min)")
    for db in report["databases"]:
        for r in db["phases"]:
            for c in r["checks"]:
                R.log(f"  {db['database']:<8} {r['phase']:<9} {c['result']:<4} {c['check']}: {c['measured']} "
                      f"(target {c['target']})")
