"""Benchmarks of the provider under gunicorn against its performance targets (shared/DESIGN.md, issue 6).

    .venv/bin/python bench/run.py [--quick] [--db sqlite|postgres|both] [--out bench/results]
    .venv/bin/python bench/run.py --flood [--flood-duration 60]   # the credential-stuffing flood (bench/flood.py)

For each database the script makes a fresh store (a SQLite file, or a fresh PostgreSQL database
``bench``), sets it up through the provider's Python API (:mod:`bench.data`), starts the provider with
the project's ``gunicorn.conf.py`` on a free loopback port, and beside it a trivial Flask app
(:mod:`bench.trivial_app`) under the same gunicorn settings. ``wrk`` drives both at 16 connections; every
scenario is repeated and the medians are reported. Throughput is counted per CPU-second of the server
processes (user+sys of the gunicorn master and its workers, from ``/proc/<pid>/stat``, over the measured
window) and, on PostgreSQL, of the database server too (its postmaster's process tree, sampled at the same
moments: :class:`PostgresCpu`): the load generator shares the machine's cores, so wall-clock rates alone
would charge the server with the client's work. On PostgreSQL every run gives both figures,
``per_cpu_second`` (provider + database: what the targets are judged on) and
``per_cpu_second_provider_only``. See ``bench/README.md`` for what each figure means.
"""
from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import platform
import random
import re
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))

from calibrate import calibrate  # noqa: E402
from data import CLIENT_ID, CODE_VERIFIER, PASSWORD, REDIRECT_URI, Store  # noqa: E402

VENV_BIN = Path(sys.executable).parent
GUNICORN = str(VENV_BIN / "gunicorn")
GUNICORN_CONF = str(ROOT / "gunicorn.conf.py")
DRIVER = str(BENCH / "wrk" / "driver.lua")
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
CORES = os.cpu_count() or 1
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DB = "bench"
PG_URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{PG_DB}"
PG_DB_LARGE = "bench_large"  # the scale step's copy, grown to the large account count
PG_URL_LARGE = f"postgresql+psycopg://postgres@127.0.0.1:5432/{PG_DB_LARGE}"

#: Keycloak's published sizing, per vCPU and second (its "Concepts for sizing CPU and memory resources").
KEYCLOAK = {"signin": 15, "client_credentials": 120, "refresh": 120}
TARGET_CC = 1000           # client_credentials, requests per CPU-second
TARGET_CODE_REFRESH = 500  # code exchange and refresh, requests per CPU-second
#: Issue 6's targets for the token endpoint, every grant, at 16 connections: requests per second per core
#: (wall clock: client, server and database on the same cores) and p99 latency. DESIGN.md's per-CPU-second
#: targets above are the stricter measure of the server; these are what a client of this machine sees.
TOKEN_GRANTS = ("client_credentials", "code_exchange", "refresh")
TARGET_TOKEN_RPS_PER_CORE = 300
TARGET_TOKEN_P99_MS = 50
TARGET_VS_TRIVIAL = 0.60   # UserInfo and introspection, fraction of the trivial endpoint per CPU-second
TARGET_SIGNIN_OVERHEAD = 0.10
TARGET_RSS_MB = 100
#: "Flat" from the small to the large account table: medians within run-to-run noise on a shared machine.
FLAT_LATENCY_RATIO = 1.20
FLAT_RATE_RATIO = 1 / 1.20


# -- processes --------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                fields = _stat(int(entry))
                if fields and int(fields[1]) == pid:
                    found.append(int(entry))
        return found


def tree_cpu_seconds(master: int) -> float:
    """user+sys of the master and its live workers, plus what reaped workers spent (the master's cutime,
    cstime): the sum only grows, also across gunicorn's worker recycling (max_requests)."""
    fields = _stat(master)
    if fields is None:
        return 0.0
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))
    for pid in children(master):
        f = _stat(pid)
        if f is not None:
            ticks += int(f[11]) + int(f[12])
    return ticks / CLK_TCK


def boot_time() -> float:
    """When the machine booted, in seconds since the epoch (``btime`` of /proc/stat)."""
    with open("/proc/stat") as f:
        return float(next(line.split()[1] for line in f if line.startswith("btime")))


def process_start(pid: int) -> float | None:
    """When process ``pid`` started, in seconds since the epoch (to a tick, and btime's whole second)."""
    fields = _stat(pid)
    return None if fields is None else boot_time() + int(fields[19]) / CLK_TCK


def process_name(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return None


class PostgresCpu:
    """The CPU of the PostgreSQL server the provider uses, when it runs on this machine: its postmaster's
    process tree, sampled at the same moments as the gunicorn processes' CPU (see :func:`run_wrk`).

    **Finding the postmaster.** The server is asked which process serves an admin connection
    (``pg_backend_pid()``); every backend is a child of the postmaster, so the backend's parent in /proc is
    it. The candidate is accepted only if it is named ``postgres`` (or ``postmaster``) and started when the
    server says it did (``pg_postmaster_start_time()``, recorded a moment after the process starts; /proc
    gives the process's start to btime's whole second). This needs no file of the server's (its data directory
    and ``postmaster.pid`` are readable by the ``postgres`` user and root only), picks the right server where
    several run (``pgrep -o postgres`` takes the oldest process of that name, of whichever cluster; a scan for
    "parent 1 and named postgres" misses a postmaster kept in the foreground by a supervisor or a container's
    init, whose parent is not 1), and never takes an unrelated local process for a server on another host or
    in a container (another PID namespace: there the backend's pid means nothing here, or something else).
    When it cannot be verified the database's CPU is *unknown*: the runs then count the provider alone and the
    report says so.

    **What is counted.** Over a window: the postmaster's own user+sys and that of each of its children
    alive at the window's end (the change since the window's start; the whole of it for a process started
    in the window), except the client backends of other databases than the benchmark's (named by
    ``pg_stat_activity`` just before and right after the window): on a shared development machine other
    people's test runs use the same server, and their CPU is not the provider's — it stays in "others'
    CPU". The auxiliary processes (checkpointer, WAL writer, background writer, autovacuum) are counted:
    they write what the provider's requests changed. Children that exit during the window are left out of
    that count (their CPU reaches the postmaster's ``cutime`` only when reaped, with no pid to say whose
    they were): the provider keeps its connections open, so none of its backends should; each run records
    how many of the benchmark's did (``db_exited_backends``), and ``db_tree_cpu_seconds``, the whole tree
    with reaped children and other databases' backends, as an upper bound.
    """

    def __init__(self, admin_url: str, databases: tuple[str, ...]):
        import psycopg

        self.databases = set(databases)
        self.names: dict[int, str | None] = {}
        self.conn = psycopg.connect(admin_url, autocommit=True)
        self.pid, self.how = self._find()

    def _find(self) -> tuple[int | None, str]:
        backend, started = self.conn.execute(
            "SELECT pg_backend_pid(), extract(epoch FROM pg_postmaster_start_time())::float8").fetchone()
        fields = _stat(backend)
        if fields is None or process_name(backend) not in ("postgres", "postmaster"):
            return None, (f"unknown: the server's backend {backend} is no postgres process here (a server on "
                          "another host or in another PID namespace)")
        parent = int(fields[1])
        name, parent_started = process_name(parent), process_start(parent)
        if name not in ("postgres", "postmaster") or parent_started is None:
            return None, f"unknown: the parent of backend {backend} (pid {parent}, {name!r}) is no postmaster"
        # The postmaster records its start time after reading its configuration and setting up shared
        # memory: a moment after its process started, never before (btime is rounded to the second).
        if not -2.0 <= started - parent_started <= 60.0:
            return None, (f"unknown: pid {parent} started at {parent_started:.1f}, the server at {started:.1f} "
                          "(seconds since the epoch): not the same process")
        return parent, (f"the postmaster (pid {parent}: the parent of the admin connection's backend, its start "
                        "time that of pg_postmaster_start_time())")

    def learn_names(self, *, again: bool = False) -> None:
        """Which database each of the server's processes serves (None: an auxiliary process). Called just
        before each window and, ``again``, right after it, so backends started in it are named too."""
        rows = dict(self.conn.execute("SELECT pid, datname FROM pg_stat_activity").fetchall())
        self.names = {**self.names, **rows} if again else rows

    def sample(self) -> dict | None:
        """Clock ticks of the postmaster (own; reaped children's) and of each live child, by pid."""
        if self.pid is None:
            return None
        fields = _stat(self.pid)
        if fields is None:
            return None
        kids = {}
        for pid in children(self.pid):
            f = _stat(pid)
            if f is not None:
                kids[pid] = int(f[11]) + int(f[12])
        return {"own": int(fields[11]) + int(fields[12]), "reaped": int(fields[13]) + int(fields[14]),
                "children": kids}

    def window(self, before: dict | None, after: dict | None) -> dict:
        """The database's CPU-seconds between two samples (see the class): ``db_cpu_seconds`` (None if
        unknown), ``db_tree_cpu_seconds`` (the whole tree), ``db_exited_backends``."""
        if before is None or after is None:
            return {"db_cpu_seconds": None, "db_tree_cpu_seconds": None, "db_exited_backends": None}
        ours = after["own"] - before["own"]
        for pid, ticks in after["children"].items():
            database = self.names.get(pid)
            if database is None or database in self.databases:
                ours += ticks - before["children"].get(pid, 0)
        tree = ((after["own"] + after["reaped"] + sum(after["children"].values()))
                - (before["own"] + before["reaped"] + sum(before["children"].values())))
        exited = sum(1 for pid in before["children"] if pid not in after["children"]
                     and (self.names.get(pid) is None or self.names.get(pid) in self.databases))
        return {"db_cpu_seconds": round(ours / CLK_TCK, 3), "db_tree_cpu_seconds": round(tree / CLK_TCK, 3),
                "db_exited_backends": exited}

    def close(self) -> None:
        self.conn.close()


def machine_busy_seconds() -> float:
    """CPU-seconds the whole machine has spent busy (all processes, all cores) since boot."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def memory_mb(pid: int) -> dict | None:
    """Resident (RSS), proportional (PSS: shared pages divided among sharers) and unique (USS) memory."""
    try:
        with open(f"/proc/{pid}/status") as f:
            rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        pss = uss = None
        with open(f"/proc/{pid}/smaps_rollup") as f:
            values = {}
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                    values[parts[0][:-1]] = int(parts[1])
            pss = values.get("Pss")
            uss = values.get("Private_Clean", 0) + values.get("Private_Dirty", 0)
    except (OSError, StopIteration):
        return None
    return {"rss": rss / 1024, "pss": (pss or 0) / 1024, "uss": (uss or 0) / 1024}


class Server:
    """A gunicorn master with the project's gunicorn.conf.py, on its own port, logs to a file; ``database``:
    the PostgreSQL server whose CPU its runs count beside its own (None: SQLite, or no database)."""

    def __init__(self, name: str, app: str, env: dict, cwd: Path, port: int, log_dir: Path, ready_path: str,
                 database: PostgresCpu | None = None):
        self.name, self.app, self.env, self.cwd, self.port = name, app, env, cwd, port
        self.database = database
        self.ready_path, self.log_path = ready_path, log_dir / f"gunicorn-{name}.log"
        self.proc: subprocess.Popen | None = None
        self.peak: dict[str, float] = {"rss": 0.0, "pss": 0.0, "uss": 0.0}
        self.master_rss = 0.0

    def start(self, timeout: float = 60) -> None:
        env = dict(self.env, GUNICORN_BIND=f"127.0.0.1:{self.port}")
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([GUNICORN, "-c", GUNICORN_CONF, self.app], cwd=self.cwd, env=env,
                                     stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        workers = int(env.get("GUNICORN_WORKERS", CORES))
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name}: gunicorn exited ({self.proc.returncode}); see {self.log_path}")
            try:
                status, _, _ = request("GET", self.port, self.ready_path, timeout=2)
                if status == 200 and len(children(self.proc.pid)) >= workers:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name}: not ready after {timeout} s; see {self.log_path}")

    def cpu(self) -> float:
        return tree_cpu_seconds(self.proc.pid)

    def wait_idle(self, *, timeout: float = 30.0, below: float = 0.05, step: float = 0.25) -> float:
        """Wait until the server's processes use less than ``below`` of a core: wrk stops at the end of its
        run, but the requests it left in flight are still served (16 sign-ins are 3 CPU-seconds of bcrypt),
        and that work must not land in the next scenario's window. Returns the seconds waited."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            before = self.cpu()
            time.sleep(step)
            if (self.cpu() - before) / step < below:
                break
        return time.monotonic() - started

    def sample_memory(self) -> None:
        for pid in children(self.proc.pid):
            m = memory_mb(pid)
            if m:
                for k in self.peak:
                    self.peak[k] = max(self.peak[k], m[k])
        m = memory_mb(self.proc.pid)
        if m:
            self.master_rss = max(self.master_rss, m["rss"])

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)  # gunicorn's graceful shutdown
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


def request(method: str, port: int, path: str, *, body: str | None = None, headers: dict | None = None,
            timeout: float = 10) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


# -- the load generator -------------------------------------------------------------------------------------

def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk not found: installing it from Debian (apt-get install -y wrk)", flush=True)
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=False, capture_output=True)
        if not shutil.which("wrk"):
            subprocess.run(["apt-get", "update"], check=False, capture_output=True)
            subprocess.run(["apt-get", "install", "-y", "wrk"], check=False, capture_output=True)
        found = shutil.which("wrk")
    if not found:
        sys.exit("bench/run.py needs wrk (Debian: apt-get install -y wrk)")
    return found


@dataclass
class Load:
    """One wrk run's request: see bench/wrk/driver.lua."""

    method: str = "GET"
    path: str = "/"
    headers: dict = field(default_factory=dict)
    body: str = ""
    items: list[str] | None = None
    single_use: bool = False
    expect: int = 200


def run_wrk(wrk: str, server: Server, load: Load, *, duration: float, connections: int, threads: int,
            work: Path, lead: float = 1.0, tail: float = 0.5) -> dict:
    """One wrk run: ``lead`` seconds of ramp-up, the measured window of ``duration`` seconds, ``tail`` seconds
    more. Rates count the answers that arrived in the window (timed by the Lua driver on CLOCK_MONOTONIC)
    against the server's CPU-seconds in the same window, and its database server's if it has one
    (``server.database``: PostgreSQL), sampled at the same moments; latency percentiles are wrk's, over the
    whole run."""
    items_file = work / "items.txt"
    out_file = work / "wrk-out.json"
    out_file.unlink(missing_ok=True)
    if load.items is not None:
        items_file.write_text("\n".join(load.items) + "\n")
    total = int(lead + duration + tail + 0.999)
    start_at = time.monotonic() + 0.3  # wrk's own start-up (building the requests) happens before this
    window = (start_at + lead, start_at + lead + duration)
    env = dict(os.environ, BENCH_METHOD=load.method, BENCH_PATH=load.path,
               BENCH_HEADERS="\n".join(f"{k}: {v}" for k, v in load.headers.items()), BENCH_BODY=load.body,
               BENCH_ITEMS=str(items_file) if load.items is not None else "",
               BENCH_SINGLE="1" if load.single_use else "0", BENCH_EXPECT=str(load.expect),
               BENCH_THREADS=str(threads), BENCH_OUT=str(out_file), BENCH_WINDOW=f"{window[0]:.6f} {window[1]:.6f}")
    cmd = [wrk, f"-t{threads}", f"-c{connections}", f"-d{total}s", "--timeout", "10s", "-s", DRIVER,
           f"http://127.0.0.1:{server.port}"]
    db = server.database
    if db is not None:
        db.learn_names()
    before_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(max(0.0, window[0] - time.monotonic()))
    cpu0, db0, busy0 = server.cpu(), db.sample() if db else None, machine_busy_seconds()
    time.sleep(max(0.0, window[1] - time.monotonic()))
    cpu1, db1, busy1 = server.cpu(), db.sample() if db else None, machine_busy_seconds()
    cpu, busy = cpu1 - cpu0, busy1 - busy0
    if db is not None:
        db.learn_names(again=True)
        db_window = db.window(db0, db1)
    else:
        db_window = {"db_cpu_seconds": None}
    db_cpu = db_window["db_cpu_seconds"]
    with_db = cpu + (db_cpu or 0.0)
    server.sample_memory()
    stdout, stderr = proc.communicate(timeout=total + 60)
    after_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0 or not out_file.exists():
        raise RuntimeError(f"wrk failed ({proc.returncode}): {stderr or stdout}")
    if started > window[0]:
        raise RuntimeError("the benchmark process was too slow to open the measured window")
    result = json.loads(out_file.read_text())
    ok = result["window_ok"]
    loadgen = ((after_children.ru_utime - before_children.ru_utime)
               + (after_children.ru_stime - before_children.ru_stime))
    # What neither the server, its database server (when counted) nor the load generator used: other
    # processes on a shared machine (other databases' backends among them; PostgreSQL's whole CPU when it is
    # not counted). wrk's CPU is known for its whole run only: its share of the window is estimated.
    others = max(0.0, busy - cpu - (db_cpu or 0.0) - loadgen * duration / total)
    lat = result["latency_us"]
    return {
        "requests": result["requests"], "ok": result["ok"], "window_ok": ok, "bad": result["bad"],
        "bad_statuses": result["bad_statuses"],
        "socket_errors": {k: v for k, v in result["errors"].items() if k != "status" and v},
        "exhausted": result["exhausted"] > 0,
        "window_seconds": duration, "server_cpu_seconds": round(cpu, 3),
        "server_cpu_share": round(cpu / duration / CORES, 3),
        **db_window,
        "db_cpu_share": round(db_cpu / duration / CORES, 3) if db_cpu is not None else None,
        "loadgen_cpu_seconds": round(loadgen, 3),
        "other_cpu_share": round(others / duration / CORES, 3),
        # The honest figure (provider + database server), on which the targets are judged; and without the
        # database. The same for SQLite (in the provider's processes) and for the trivial app (no database).
        "per_cpu_second": round(ok / with_db, 1) if with_db > 0 else None,
        "per_cpu_second_provider_only": round(ok / cpu, 1) if cpu > 0 else None,
        "rps": round(ok / duration, 1),
        "rps_per_core": round(ok / duration / CORES, 1),
        "p50_ms": lat["p50"] / 1000, "p90_ms": lat["p90"] / 1000, "p99_ms": lat["p99"] / 1000,
        "max_ms": lat["max"] / 1000, "mean_ms": round(lat["mean"] / 1000, 3),
    }


# -- scenarios ---------------------------------------------------------------------------------------------

FORM = "application/x-www-form-urlencoded"


class Bench:
    """One database: its store, its two servers, its scenarios."""

    def __init__(self, kind: str, cfg: argparse.Namespace, wrk: str, rng: random.Random):
        self.kind, self.cfg, self.wrk, self.rng = kind, cfg, wrk, rng
        self.tmp = Path(tempfile.mkdtemp(prefix=f"idp-bench-{kind}-"))
        self.work = self.tmp / "work"
        self.work.mkdir()
        (self.tmp / "prometheus").mkdir()
        # The database server's CPU, counted beside the provider's (PostgreSQL); see PostgresCpu.
        # ``db_cpu_status`` goes into the report: "server" (counted), "in-process" (SQLite) or "unknown".
        self.db_cpu: PostgresCpu | None = None
        if kind == "postgres":
            fresh_postgres()
            database_url = PG_URL
            db_cpu = PostgresCpu(PG_ADMIN, (PG_DB, PG_DB_LARGE))
            if db_cpu.pid is None:
                db_cpu.close()
                self.db_cpu_status = {"mode": "unknown", "how": db_cpu.how}
                log(f"[{kind}] the database server's CPU cannot be counted: {db_cpu.how}")
            else:
                self.db_cpu = db_cpu
                self.db_cpu_status = {"mode": "server", "how": db_cpu.how}
                log(f"[{kind}] counting the database server's CPU: {db_cpu.how}")
        else:
            database_url = f"sqlite:///{self.tmp / 'instance' / 'idp.sqlite3'}"
            self.db_cpu_status = {"mode": "in-process", "how": "SQLite runs inside the provider's processes"}
        port, trivial_port = free_port(), free_port()
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("IDP_", "GUNICORN_", "PROMETHEUS_", "BENCH_"))}
        self.env.update({
            "IDP_ENV": "development",
            "IDP_SECRET_KEY": secrets.token_urlsafe(48),
            "IDP_DATABASE_URL": database_url,
            "IDP_ISSUER": f"http://127.0.0.1:{port}",
            "IDP_KEYS_DIR": str(self.tmp / "keys"),
            "IDP_INSTANCE_DIR": str(self.tmp / "instance"),
            "IDP_DELIVERY_MODE": "worker",
            # Every sign-in of the load comes from 127.0.0.1: raise the per-address and per-login limits.
            "IDP_SIGNIN_THRESHOLD": "1000000000",
            "IDP_IP_THRESHOLD": "1000000000",
            "IDP_RESET_PER_MINUTE": "1000000",
            "IDP_RESET_PER_HOUR": "1000000",
            # ... and the ceilings over all addresses, which the settings require to be at least those.
            "IDP_SIGNIN_LOGIN_CEILING": "1000000000",
            "IDP_RESET_LOGIN_CEILING": "1000000",
            # The documented production setting for several gunicorn workers (README, idp/ops/metrics.py).
            "PROMETHEUS_MULTIPROC_DIR": str(self.tmp / "prometheus"),
            "PYTHONDONTWRITEBYTECODE": "1",
        })
        if cfg.bcrypt_rounds:
            self.env["IDP_BCRYPT_ROUNDS"] = str(cfg.bcrypt_rounds)
        # Trying another gunicorn setting (both servers): BENCH_GUNICORN_THREADS=2 → GUNICORN_THREADS=2.
        self.env.update({k[len("BENCH_"):]: v for k, v in os.environ.items() if k.startswith("BENCH_GUNICORN_")})
        self.adjust_env(self.env)
        self.store = Store(self.env)
        self.provider = Server("provider", "idp.wsgi:app", self.env, ROOT, port, self.tmp, "/healthz", self.db_cpu)
        # The trivial app uses no database: its runs count its own processes only, on either database.
        self.trivial = Server("trivial", "trivial_app:app", self.env, BENCH, trivial_port, self.tmp, "/")
        self.rates: dict[str, float] = {}
        self.results: dict[str, list[dict]] = {}
        # The scale step's runs: on the small store and on its copy grown large, taken in turns.
        self.scale_results: dict[str, dict[str, list[dict]]] = {"small": {}, "large": {}}
        self.large: tuple[Store, Server] | None = None
        self.bcrypt_samples: list[float] = []

    def adjust_env(self, env: dict) -> None:
        """A hook for another scenario's provider environment (bench/flood.py); the benchmark's is as above."""

    # setup ------------------------------------------------------------------------------------------------

    def prepare(self, accounts: int) -> None:
        """The store set up through the provider's API — schema, signing key, the client (its Basic credentials
        in ``self.basic``), ``accounts`` accounts — and the provider started on it."""
        log(f"[{self.kind}] schema, signing key, client, {accounts:,} accounts")
        self.store.init()
        client_id, secret = self.store.create_client()
        self.basic = "Basic " + base64.b64encode(
            f"{urllib.parse.quote(client_id, safe='')}:{urllib.parse.quote(secret, safe='')}".encode()).decode()
        self.store.add_accounts(accounts)
        self.store.vacuum_analyze()
        self.provider.start()

    def setup(self) -> None:
        self.prepare(self.cfg.small_accounts)
        self.trivial.start()
        log(f"[{self.kind}] provider on :{self.provider.port}, trivial app on :{self.trivial.port}")
        self.signin_form = {self.provider.port: signin_form(self.provider)}
        self.sanity()

    def grow_a_copy(self) -> float:
        """The scale step's large store: a copy of the small one (the same client, key, tokens and codes, as
        the measured runs left them) grown to the large account count, served by a provider of its own.
        Returns the seconds the copy and the growing took."""
        cfg = self.cfg
        started = time.monotonic()
        env = dict(self.env, PROMETHEUS_MULTIPROC_DIR=str(self.tmp / "prometheus-large"))
        (self.tmp / "prometheus-large").mkdir()
        if self.kind == "postgres":
            # A template must have no other session: the small store's provider stops for the copy.
            self.provider.stop()
            self.store.dispose()
            copy_postgres(PG_DB, PG_DB_LARGE)
            self.provider.start()
            env["IDP_DATABASE_URL"] = PG_URL_LARGE
        else:
            path = self.tmp / "instance" / "idp-large.sqlite3"
            copy_sqlite(self.tmp / "instance" / "idp.sqlite3", path)
            env["IDP_DATABASE_URL"] = f"sqlite:///{path}"
        port = free_port()
        env["IDP_ISSUER"] = f"http://127.0.0.1:{port}"
        store = self.store.copy(env)
        log(f"[{self.kind}] growing a copy's account table to {cfg.large_accounts:,}")
        store.add_accounts(cfg.large_accounts, progress=lambda n: log(f"    {n:,} accounts")
                           if n % 250_000 == 0 else None)
        store.vacuum_analyze()
        server = Server("provider-large", "idp.wsgi:app", env, ROOT, port, self.tmp, "/healthz", self.db_cpu)
        server.start()
        self.signin_form[port] = signin_form(server)
        self.large = (store, server)
        return time.monotonic() - started

    def loads(self, store: Store | None = None, provider: Server | None = None) -> dict:
        """Scenario name → (server, a function making the Load for one run), on the small store or another."""
        store, provider = store or self.store, provider or self.provider
        token_headers = {"Authorization": self.basic, "Content-Type": FORM}
        signin_cookie, csrf = self.signin_form[provider.port]
        redirect = urllib.parse.quote(REDIRECT_URI, safe="")

        def pool(name: str) -> int:
            # Single-use items: enough for the run at the best rate seen so far, twice over.
            return max(3000, int(self.rates.get(name, 1500) * (self.cfg.duration + 3) * 2))

        def access_tokens():
            return [a for a, _ in store.mint_tokens(2000, self.rng)]

        return {
            "trivial": (self.trivial, lambda: Load("GET", "/")),
            "healthz": (provider, lambda: Load("GET", "/healthz")),
            "discovery": (provider, lambda: Load("GET", "/.well-known/openid-configuration")),
            "jwks": (provider, lambda: Load("GET", "/.well-known/jwks.json")),
            "client_credentials": (provider, lambda: Load(
                "POST", "/oauth/token", token_headers, "grant_type=client_credentials")),
            "code_exchange": (provider, lambda: Load(
                "POST", "/oauth/token", token_headers,
                f"grant_type=authorization_code&code={{item}}&redirect_uri={redirect}&code_verifier={CODE_VERIFIER}",
                store.mint_codes(pool("code_exchange"), self.rng), single_use=True)),
            "refresh": (provider, lambda: Load(
                "POST", "/oauth/token", token_headers, "grant_type=refresh_token&refresh_token={item}",
                [r for _, r in store.mint_tokens(pool("refresh"), self.rng)], single_use=True)),
            "userinfo": (provider, lambda: Load(
                "GET", "/oauth/userinfo", {"Authorization": "Bearer {item}"}, items=access_tokens())),
            "introspection": (provider, lambda: Load(
                "POST", "/oauth/introspect", token_headers, "token={item}&token_type_hint=access_token",
                access_tokens())),
            "signin": (provider, lambda: Load(
                "POST", "/login", {"Cookie": signin_cookie, "Content-Type": FORM},
                f"login={{item}}&password={urllib.parse.quote(PASSWORD)}&csrf_token={csrf}",
                [urllib.parse.quote(x) for x in store.sample_logins(2000, self.rng)], expect=302)),
        }

    def sanity(self) -> None:
        """One request of every kind, its answer checked, before any load: a benchmark of error pages
        measures nothing."""
        port, h = self.provider.port, {"Authorization": self.basic, "Content-Type": FORM}
        status, _, body = request("POST", port, "/oauth/token", body="grant_type=client_credentials", headers=h)
        data = json.loads(body)
        assert status == 200 and data.get("access_token") and data.get("scope") == "bench.api", (status, body)
        code = self.store.mint_codes(1, self.rng)[0]
        status, _, body = request("POST", port, "/oauth/token", headers=h, body=urllib.parse.urlencode(
            {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
             "code_verifier": CODE_VERIFIER}))
        data = json.loads(body)
        assert status == 200 and data.get("id_token") and data.get("refresh_token"), (status, body)
        status, _, body = request("POST", port, "/oauth/token", headers=h, body=urllib.parse.urlencode(
            {"grant_type": "refresh_token", "refresh_token": data["refresh_token"]}))
        refreshed = json.loads(body)
        assert status == 200 and refreshed.get("refresh_token") and refreshed.get("id_token"), (status, body)
        status, _, body = request("GET", port, "/oauth/userinfo",
                                  headers={"Authorization": "Bearer " + refreshed["access_token"]})
        assert status == 200 and json.loads(body).get("email", "").endswith("@bench.example.com"), (status, body)
        status, _, body = request("POST", port, "/oauth/introspect", headers=h,
                                  body="token=" + refreshed["access_token"])
        assert status == 200 and json.loads(body).get("active") is True, (status, body)
        login = self.store.sample_logins(1, self.rng)[0]
        cookie, csrf = self.signin_form[port]
        status, headers, body = request(
            "POST", port, "/login", headers={"Cookie": cookie, "Content-Type": FORM},
            body=urllib.parse.urlencode({"login": login, "password": PASSWORD, "csrf_token": csrf}))
        assert status == 302 and headers.get("location", "").endswith("/account"), (status, headers, body[:300])

    # measuring ------------------------------------------------------------------------------------------

    def measure(self, name: str, *, duration: float, bucket: dict, large: bool = False) -> dict:
        store, provider = self.large if large else (self.store, self.provider)
        server, make = self.loads(store, provider)[name]
        load = make()
        if name == "signin":
            self.bcrypt_samples.extend(bcrypt_times(store, 3))
        run = run_wrk(self.wrk, server, load, duration=duration, connections=self.cfg.connections,
                      threads=self.cfg.threads, work=self.work, lead=2.0 if name == "signin" else 1.0)
        run["drain_seconds"] = round(server.wait_idle(), 2)  # what wrk left in flight, served before the next run
        self.rates[name] = max(self.rates.get(name, 0), run["rps"])
        bucket.setdefault(name, []).append(run)
        flag = " EXHAUSTED" if run["exhausted"] else ""
        flag += f" BAD={run['bad']} {run['bad_statuses']}" if run["bad"] else ""
        flag += f" SOCKET={run['socket_errors']}" if run["socket_errors"] else ""
        where = f"{self.kind}, {store.accounts:,}" if large else self.kind
        db = (f" (without DB {run['per_cpu_second_provider_only']})" if run["db_cpu_seconds"] is not None else "")
        db_cpu = f", DB {run['db_cpu_seconds']} CPU-s" if run["db_cpu_seconds"] is not None else ""
        log(f"[{where}] {name:<19} {run['per_cpu_second']:>8} req/CPU-s{db} {run['rps']:>8} req/s  "
            f"p50 {run['p50_ms']:7.2f} ms  p99 {run['p99_ms']:7.2f} ms  (server {run['server_cpu_seconds']} CPU-s"
            f"{db_cpu}, wrk {run['loadgen_cpu_seconds']} CPU-s, others {run['other_cpu_share']:.0%}){flag}")
        return run

    def run(self) -> dict:
        cfg = self.cfg
        self.setup()
        names = [n for n in RUN_ORDER if not cfg.only or n in cfg.only]
        log(f"[{self.kind}] warm-up")
        for name in names:
            self.measure(name, duration=1 if name != "signin" else 2, bucket={})
        for repeat in range(cfg.repeats):
            log(f"[{self.kind}] repeat {repeat + 1}/{cfg.repeats} at {self.store.accounts:,} accounts")
            for name in names:
                self.measure(name, duration=cfg.signin_duration if name == "signin" else cfg.duration,
                             bucket=self.results)
        # The scenarios whose target is a ratio to the trivial endpoint, in further rounds (see RATIO_SCENARIOS).
        ratio_names = [n for n in names if n in RATIO_SCENARIOS]
        for round_ in range(cfg.repeats, cfg.ratio_repeats if len(ratio_names) > 1 else 0):
            log(f"[{self.kind}] ratio round {round_ + 1}/{cfg.ratio_repeats}: {', '.join(ratio_names)}")
            for name in ratio_names:
                self.measure(name, duration=cfg.duration, bucket=self.results)
        if cfg.only:
            return {"database": self.kind, "runs": self.results, "db_cpu": self.db_cpu_status}
        counts_small = self.store.table_counts()
        if cfg.no_scale:
            for server in (self.provider, self.trivial):
                server.sample_memory()
            return {"database": self.kind, "runs": self.results, "db_cpu": self.db_cpu_status,
                    "scale_runs": None, "bcrypt_seconds": self.bcrypt_samples, "rows_small": counts_small,
                    "rows_large": None, "fill_seconds": None,
                    "memory_mb": {"provider_worker_peak": self.provider.peak,
                                  "provider_master_rss": self.provider.master_rss,
                                  "trivial_worker_peak": self.trivial.peak}}
        fill_seconds = self.grow_a_copy()
        large_store, large_provider = self.large
        log(f"[{self.kind}] a copy with {large_store.accounts:,} accounts in {fill_seconds:.0f} s, "
            f"its provider on :{large_provider.port}")
        # The small and the large store measured in turns, each run beside its pair (the first of a pair
        # alternating): the machine's drift over minutes falls on both alike.
        for name in SCALE_SCENARIOS:
            for large in (False, True):
                self.measure(name, duration=1 if name != "signin" else 2, bucket={}, large=large)
        for repeat in range(cfg.repeats):
            log(f"[{self.kind}] scale repeat {repeat + 1}/{cfg.repeats}: {self.store.accounts:,} and "
                f"{large_store.accounts:,} accounts in turns")
            for name in SCALE_SCENARIOS:
                for large in ((False, True) if repeat % 2 == 0 else (True, False)):
                    self.measure(name, duration=cfg.signin_duration if name == "signin" else cfg.duration,
                                 bucket=self.scale_results["large" if large else "small"], large=large)
        counts_large = large_store.table_counts()
        for server in (self.provider, large_provider, self.trivial):
            server.sample_memory()
        peak = {k: max(self.provider.peak[k], large_provider.peak[k]) for k in self.provider.peak}
        return {"database": self.kind, "runs": self.results, "db_cpu": self.db_cpu_status,
                "scale_runs": self.scale_results,
                "bcrypt_seconds": self.bcrypt_samples, "rows_small": counts_small, "rows_large": counts_large,
                "fill_seconds": round(fill_seconds, 1),
                "memory_mb": {"provider_worker_peak": peak,
                              "provider_master_rss": max(self.provider.master_rss, large_provider.master_rss),
                              "trivial_worker_peak": self.trivial.peak}}

    def close(self) -> None:
        for server in (self.provider, self.trivial, *(self.large[1:] if self.large else ())):
            try:
                server.stop()
            except Exception as exc:  # keep tearing down
                log(f"stopping {server.name}: {exc}")
        for store in (self.store, *(self.large[:1] if self.large else ())):
            try:
                store.dispose()
            except Exception:
                pass
        if self.db_cpu is not None:
            self.db_cpu.close()
        if self.kind == "postgres":
            drop_postgres()
        if self.cfg.keep:
            log(f"[{self.kind}] kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


SCALE_SCENARIOS = ("signin", "code_exchange", "refresh", "userinfo")
#: The scenarios whose target is a fraction of the trivial endpoint's, and the trivial endpoint: after the
#: repeats they run in further rounds (``--ratio-repeats`` runs each in all), one right after another. Their
#: check is the median of the ratios pair by pair, and on this shared machine a few-second disturbance now
#: and then halves one run of a pair (the 2026-12-03 19:23 run: one PostgreSQL trivial run at 2,130 req/CPU-s
#: between runs at 4,185-4,473, one introspection run at 1,534 between 2,278-2,740): with three pairs two
#: such runs decide the median, with seven they cannot.
RATIO_SCENARIOS = ("userinfo", "trivial", "introspection")
#: The order of the runs in every repeat. The trivial endpoint sits between UserInfo and introspection,
#: the two scenarios whose target is a fraction of it: each of their runs is compared with the trivial run
#: of the same repeat, made a few seconds before or after, under the same conditions (the speed of a core
#: of this shared machine changes by up to ±40% over minutes, with other tenants' load).
RUN_ORDER = ("healthz", "discovery", "jwks", "client_credentials", "code_exchange", "refresh", "userinfo",
             "trivial", "introspection", "signin")


def bcrypt_times(store: Store, count: int) -> list[float]:
    """Seconds of one password check at the configured cost, as sign-in does it (the provider's hasher)."""
    hasher = store.app.extensions["idp"].hasher
    stored = store._password_hash or hasher.hash(PASSWORD)
    times = []
    for _ in range(count):
        started = time.perf_counter()
        hasher.verify(PASSWORD, stored)
        times.append(time.perf_counter() - started)
    return times


def fresh_postgres() -> None:
    import psycopg

    drop_postgres()
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {PG_DB}")


def drop_postgres() -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        for name in (PG_DB, PG_DB_LARGE):
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def copy_postgres(source: str, target: str) -> None:
    """``target`` as a copy of ``source`` (which must have no session open)."""
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {target} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {target} TEMPLATE {source}")


def copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database (its write-ahead log included), by SQLite's backup API."""
    import sqlite3

    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


def signin_form(server: Server) -> tuple[str, str]:
    """A session cookie and its CSRF token from a provider's real sign-in page, sent with every sign-in to
    it: the session is signed client-side, and a token without a time limit stays valid with it."""
    status, headers, body = request("GET", server.port, "/login")
    assert status == 200, status
    cookie = headers["set-cookie"].split(";", 1)[0]
    return cookie, re.search(rb'name="csrf_token" value="([^"]+)"', body).group(1).decode()


_IMPORT_LINE = re.compile(r"run 1: (\d+) rows in ([\d.]+) s = (\d+) policies/s; ([\d.]+) CPU-seconds = (\d+) "
                          r"policies per CPU-second")


def import_rate(kind: str, count: int, repeats: int) -> dict:
    """The policy import rate, by bench/import_policies.py (the import's own benchmark) on a fresh store."""
    runs = []
    for _ in range(repeats):
        cmd = [sys.executable, str(BENCH / "import_policies.py"), "--count", str(count)]
        if kind == "postgres":
            fresh_postgres()
            cmd += ["--database-url", PG_URL]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("IDP_", "PROMETHEUS_"))}
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
        if kind == "postgres":
            drop_postgres()
        found = _IMPORT_LINE.search(done.stdout)
        if done.returncode != 0 or not found:
            raise RuntimeError(f"import_policies.py failed ({done.returncode}): {done.stdout[-800:]} "
                               f"{done.stderr[-2000:]}")
        rows, seconds, rate, cpu, per_cpu = found.groups()
        runs.append({"rows": int(rows), "seconds": float(seconds), "per_second": int(rate),
                     "cpu_seconds": float(cpu), "per_cpu_second": int(per_cpu)})
        log(f"[{kind}] policy import: {rate} policies/s, {per_cpu} per CPU-second ({rows} rows)")
    return {"runs": runs, "per_second": statistics.median(r["per_second"] for r in runs),
            "per_cpu_second": statistics.median(r["per_cpu_second"] for r in runs), "count": count}


# -- summarising -----------------------------------------------------------------------------------------------

def median_of(runs: list[dict], key: str) -> float | None:
    values = [r[key] for r in runs if r.get(key) is not None]
    return round(statistics.median(values), 3) if values else None


def summarise(runs: list[dict]) -> dict:
    keys = ("per_cpu_second", "per_cpu_second_provider_only", "rps", "rps_per_core", "p50_ms", "p90_ms", "p99_ms",
            "max_ms", "server_cpu_seconds", "server_cpu_share", "db_cpu_seconds", "db_tree_cpu_seconds",
            "db_cpu_share", "loadgen_cpu_seconds", "other_cpu_share")
    out = {k: median_of(runs, k) for k in keys}
    # The database server's share of the CPU the requests cost (provider + database), run by run.
    shares = [r["db_cpu_seconds"] / (r["server_cpu_seconds"] + r["db_cpu_seconds"]) for r in runs
              if r.get("db_cpu_seconds") is not None and r["server_cpu_seconds"] + r["db_cpu_seconds"] > 0]
    out["db_fraction"] = round(statistics.median(shares), 3) if shares else None
    out["db_exited_backends"] = sum(r.get("db_exited_backends") or 0 for r in runs)
    out["repeats"] = len(runs)
    out["bad"] = sum(r["bad"] for r in runs)
    out["exhausted"] = any(r["exhausted"] for r in runs)
    out["socket_errors"] = sum(sum(r["socket_errors"].values()) for r in runs)
    return out


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "FAIL")


def pair_ratios(pairs: list[tuple[dict, dict]], key: str) -> list[float]:
    """Over (base run, other run) pairs measured close together, other ÷ base for ``key``, pair by pair."""
    return [round(other[key] / base[key], 3) for base, other in pairs if base.get(key) and other.get(key)]


def paired_ratio(pairs: list[tuple[dict, dict]], key: str) -> float | None:
    """The median of :func:`pair_ratios`."""
    ratios = pair_ratios(pairs, key)
    return round(statistics.median(ratios), 3) if ratios else None


def complete_old_report(db: dict) -> None:
    """A report.json written before the database server's CPU was counted (--render): its runs' req/CPU-s is
    the provider's alone. Its fields are completed so that it renders and evaluates as before, the
    database's CPU unknown (treated as 0: the checks are judged on the provider's figure), and the report
    says so."""
    if "db_cpu" in db:
        return
    db["db_cpu"] = ({"mode": "in-process", "how": "SQLite runs inside the provider's processes"}
                    if db["database"] == "sqlite" else
                    {"mode": "unknown", "how": "this report predates bench/run.py's count of the database "
                                              "server's CPU"})
    buckets = [db["runs"], *(db.get("scale_runs") or {}).values()]
    for bucket in buckets:
        for runs in bucket.values():
            for run in runs:
                run.setdefault("per_cpu_second_provider_only", run.get("per_cpu_second"))
                run.setdefault("db_cpu_seconds", None)


def db_counted(db: dict) -> bool:
    """Whether the report's req/CPU-s includes a database server's CPU (PostgreSQL, its postmaster found)."""
    return (db.get("db_cpu") or {}).get("mode") == "server"


def evaluate(db: dict, cores: int = CORES) -> dict:
    """Medians per scenario, and every target of shared/DESIGN.md and issue 6 with PASS/FAIL; ``cores``: the
    measuring machine's (the sign-in's bcrypt bound). Every per-CPU-second target is judged on
    ``per_cpu_second``: on PostgreSQL the provider's and the database server's CPU together."""
    s = {name: summarise(runs) for name, runs in db["runs"].items()}
    scale_runs = db.get("scale_runs") or {"small": {}, "large": {}}
    small = {name: summarise(runs) for name, runs in scale_runs["small"].items()}
    large = {name: summarise(runs) for name, runs in scale_runs["large"].items()}
    trivial = s["trivial"]["per_cpu_second"]
    checks = []
    per_cpu = " (provider + database)" if db_counted(db) else ""

    def check(name, measured, target, ok, unit="", scenario=None):
        # ``scenario``: the row of the scenario table whose result this check decides (scenario_verdict).
        checks.append({"check": name, "measured": measured, "target": target, "unit": unit, "result": verdict(ok),
                       "scenario": scenario})

    def clean(name, table=s):
        r = table[name]
        return r["bad"] == 0 and not r["exhausted"] and r["socket_errors"] == 0

    for name, row in s.items():
        # Each run against the trivial run of the same repeat (see RUN_ORDER), the median of those ratios; the
        # ratio of the two medians beside it, for reference.
        pairs = list(zip(db["runs"]["trivial"], db["runs"][name]))
        # On PostgreSQL the scenario's figure counts the database's CPU, the trivial app's has none to count.
        row["vs_trivial"] = paired_ratio(pairs, "per_cpu_second")
        row["vs_trivial_runs"] = pair_ratios(pairs, "per_cpu_second")
        row["vs_trivial_of_medians"] = (round(row["per_cpu_second"] / trivial, 3)
                                        if trivial and row["per_cpu_second"] else None)
        row["vs_trivial_provider_only"] = paired_ratio(pairs, "per_cpu_second_provider_only")
    cc = s["client_credentials"]
    check(f"client_credentials per CPU-second{per_cpu}", cc["per_cpu_second"], f"≥ {TARGET_CC}",
          cc["per_cpu_second"] >= TARGET_CC and clean("client_credentials"), "req/CPU-s", "client_credentials")
    for name in ("code_exchange", "refresh"):
        check(f"{name} per CPU-second{per_cpu}", s[name]["per_cpu_second"], f"≥ {TARGET_CODE_REFRESH}",
              s[name]["per_cpu_second"] >= TARGET_CODE_REFRESH and clean(name), "req/CPU-s", name)
    for name in TOKEN_GRANTS:
        per_core = s[name]["rps_per_core"]
        check(f"{name} requests/s per core (wall clock)", per_core, f"≥ {TARGET_TOKEN_RPS_PER_CORE}",
              per_core >= TARGET_TOKEN_RPS_PER_CORE and clean(name), "req/s", name)
        check(f"{name} p99 latency", s[name]["p99_ms"], f"≤ {TARGET_TOKEN_P99_MS}",
              s[name]["p99_ms"] <= TARGET_TOKEN_P99_MS, "ms", name)
    for name in ("userinfo", "introspection"):
        check(f"{name} vs trivial endpoint{per_cpu}", s[name]["vs_trivial"], f"≥ {TARGET_VS_TRIVIAL:.2f}",
              s[name]["vs_trivial"] >= TARGET_VS_TRIVIAL and clean(name), "× trivial", name)

    # Sign-in against the bcrypt bound: cores ÷ one check's median time.
    t_hash = statistics.median(db["bcrypt_seconds"])
    signin = s["signin"]
    bound_wall = cores / t_hash
    signin_runs = db["runs"]["signin"]
    # The provider's CPU per sign-in, and on PostgreSQL the database's with it (the honest figure, judged).
    cpu_per_signin = statistics.median((r["server_cpu_seconds"] + (r.get("db_cpu_seconds") or 0.0))
                                       / r["window_ok"] for r in signin_runs if r["window_ok"])
    provider_cpu_per_signin = statistics.median(r["server_cpu_seconds"] / r["window_ok"] for r in signin_runs
                                                if r["window_ok"])
    sign = {
        "bcrypt_cost": int(db.get("bcrypt_rounds", 12)),
        "bcrypt_median_ms": round(t_hash * 1000, 2),
        "bound_per_second": round(bound_wall, 2),
        "measured_per_second": signin["rps"],
        "overhead_wall": round(bound_wall / signin["rps"] - 1, 4) if signin["rps"] else None,
        "bound_per_cpu_second": round(1 / t_hash, 3),
        "measured_per_cpu_second": signin["per_cpu_second"],
        "cpu_ms_per_signin": round(cpu_per_signin * 1000, 2),
        "overhead_cpu": round(cpu_per_signin / t_hash - 1, 4),
        "provider_cpu_ms_per_signin": round(provider_cpu_per_signin * 1000, 2),
        "overhead_cpu_provider_only": round(provider_cpu_per_signin / t_hash - 1, 4),
    }
    check(f"sign-in overhead over the bcrypt bound (per CPU-second{', provider + database' if per_cpu else ''})",
          sign["overhead_cpu"], f"< {TARGET_SIGNIN_OVERHEAD:.2f}",
          sign["overhead_cpu"] < TARGET_SIGNIN_OVERHEAD and clean("signin"), "fraction", "signin")
    check("sign-in overhead over the bcrypt bound (wall clock, cores ÷ hash time)", sign["overhead_wall"],
          f"< {TARGET_SIGNIN_OVERHEAD:.2f}", sign["overhead_wall"] < TARGET_SIGNIN_OVERHEAD, "fraction")

    mem = db["memory_mb"]["provider_worker_peak"]
    check("resident memory per worker (peak RSS)", round(mem["rss"], 1), f"≤ {TARGET_RSS_MB}",
          mem["rss"] <= TARGET_RSS_MB, "MB")

    scale = {}
    for name in SCALE_SCENARIOS:
        if name not in scale_runs["small"]:
            continue  # no scale step (--no-scale)
        # Each large run against the small run beside it (measured in turns), the median of those ratios.
        pairs = list(zip(scale_runs["small"][name], scale_runs["large"][name]))
        lat_ratio = paired_ratio(pairs, "p50_ms")
        rate_ratio = paired_ratio(pairs, "per_cpu_second")
        scale[name] = {"small": small[name], "large": large[name], "p50_ratio": lat_ratio, "per_cpu_ratio": rate_ratio}
        flat = (lat_ratio is not None and rate_ratio is not None and lat_ratio <= FLAT_LATENCY_RATIO
                and rate_ratio >= FLAT_RATE_RATIO and clean(name, small) and clean(name, large))
        check(f"{name}: p50 latency at {db['accounts_large']:,} ÷ at {db['accounts_small']:,} accounts",
              lat_ratio, f"≤ {FLAT_LATENCY_RATIO:.2f} (and req/CPU-s ≥ {FLAT_RATE_RATIO:.2f}×)", flat, "ratio")
    return {"scenarios": s, "scale": scale, "signin": sign, "checks": checks}


# -- the report --------------------------------------------------------------------------------------------------

ORDER = ("trivial", "healthz", "discovery", "jwks", "client_credentials", "code_exchange", "refresh", "userinfo",
         "introspection", "signin")
LABELS = {
    "trivial": "trivial Flask endpoint (ceiling)", "healthz": "provider /healthz (all request hooks)",
    "discovery": "discovery", "jwks": "JWKS", "client_credentials": "token: client_credentials",
    "code_exchange": "token: code exchange (+ID token)", "refresh": "token: refresh (+ID token)",
    "userinfo": "UserInfo", "introspection": "introspection", "signin": "password sign-in (POST /login)",
}
_TOKEN_WALL = f"≥ {TARGET_TOKEN_RPS_PER_CORE}/s per core, p99 ≤ {TARGET_TOKEN_P99_MS} ms"
TARGETS = {
    "client_credentials": f"≥ {TARGET_CC}/CPU-s, {_TOKEN_WALL}",
    "code_exchange": f"≥ {TARGET_CODE_REFRESH}/CPU-s, {_TOKEN_WALL}",
    "refresh": f"≥ {TARGET_CODE_REFRESH}/CPU-s, {_TOKEN_WALL}",
    "userinfo": f"≥ {TARGET_VS_TRIVIAL:.0%} of trivial", "introspection": f"≥ {TARGET_VS_TRIVIAL:.0%} of trivial",
    "signin": f"overhead < {TARGET_SIGNIN_OVERHEAD:.0%} over bcrypt",
}


def code_version() -> str | None:
    """The commit measured (``git describe``-like: its short id, ``+changes`` if the tree differs from it)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None  # not a git checkout
    return head + (" +changes" if dirty else "")


def fmt(value, digits=0) -> str:
    if value is None:
        return "–"
    if isinstance(value, (int, float)) and not digits and abs(value) < 100:
        digits = 1 if abs(value) >= 10 else 2  # small rates (sign-in) keep their decimals
    if isinstance(value, float) and digits:
        return f"{value:,.{digits}f}"
    return f"{value:,.0f}" if isinstance(value, (int, float)) else str(value)


def scenario_verdict(name: str, ev: dict) -> str:
    """The scenario table's result for ``name``: PASS if every check made for its row passed (see evaluate)."""
    results = [c["result"] for c in ev["checks"] if c.get("scenario") == name]
    if not results:
        return "info"
    return "PASS" if all(r == "PASS" for r in results) else "FAIL"


def write_report(report: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    m = report["meta"]
    lines = [
        "# Provider benchmarks",
        "",
        f"Generated by `bench/run.py{' --quick' if m['quick'] else ''}{' --no-scale' if m.get('no_scale') else ''}` "
        f"on {m['started']} "
        f"({m['elapsed_minutes']} min){' of commit ' + m['code'] if m.get('code') else ''}. "
        f"Machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, "
        f"{m['load_generator']}. Every figure is the **median of {m['repeats']} runs** of {m['duration']} s "
        f"(sign-in {m['signin_duration']} s"
        + (f"; UserInfo, introspection and the trivial endpoint, whose targets are ratios: **{m['ratio_repeats']} "
           "runs**" if m.get("ratio_repeats", m["repeats"]) > m["repeats"] else "") +
        f") at **{m['connections']} connections** on loopback, after a warm-up. "
        f"gunicorn: the project's `gunicorn.conf.py` ({m['gunicorn']}); bcrypt cost {m['bcrypt_rounds']}. "
        "**req/CPU-s** = successful requests ÷ user+sys CPU-seconds in the measured window of the gunicorn "
        "master and workers and, on PostgreSQL, of the database server (its postmaster's process tree, other "
        "databases' backends left out), sampled at the same moments: **with DB** is that honest figure, the one "
        "every target is judged on; **without DB** counts the gunicorn processes alone (the two are the same on "
        "SQLite, which runs inside them, and for the trivial app, which has no database)"
        + ("" if all(db_counted(db) for db in report["databases"] if db["database"] == "postgres") else
           "; **in this report the PostgreSQL server's CPU is not counted** (see its section)") + ". "
        "The load generator runs on the same cores, so wall-clock rates understate the server; req/s and req/s "
        "per core are wall clock. Latency is wrk's, from request sent to response read.",
        "",
    ]
    speed = m.get("machine_speed")
    if speed:
        lines += ["**Machine speed** (`bench/calibrate.py`, at the start → at the end of this run; compare these "
                  "before comparing reports: the same code measures very differently on a slower day): "
                  + "; ".join(f"{label} {speed['start'][key]} → {speed['end'][key]} {unit}" for key, label, unit in (
                      ("rsa2048_sign_ms", "one RSA-2048 signature", "ms"),
                      ("python_us", "a fixed piece of pure-Python work", "µs"),
                      ("process_round_trip_us", "a byte to another process and back", "µs"))) + ".", ""]
    for db in report["databases"]:
        ev, kind = db["evaluation"], db["database"]
        s = ev["scenarios"]
        mode = (db.get("db_cpu") or {}).get("mode", "unknown")
        how = (db.get("db_cpu") or {}).get("how", "")
        lines += [f"## {'SQLite' if kind == 'sqlite' else 'PostgreSQL'} "
                  f"({db['accounts_small']:,} accounts; {db['database_note']})", ""]
        if mode == "server":
            exited = sum(s[name].get("db_exited_backends") or 0 for name in ORDER)
            lines += [f"**The database server's CPU is counted**: {how}. *with DB* is the provider's and the "
                      "database's CPU together (the figure judged), *without DB* the provider's alone, *DB's CPU* "
                      "the database's share of the two (median of the runs); × trivial is *with DB* ÷ the "
                      "trivial app's, which uses no database."
                      + (f" {exited} of the benchmark's database backends exited during measured windows: "
                         "their CPU in those windows is missing from *with DB*." if exited else ""), ""]
        elif mode == "in-process":
            lines += ["SQLite runs inside the provider's processes: its work is in their CPU already, so *with DB* "
                      "and *without DB* are the same figure.", ""]
        else:
            lines += [f"**The database server's CPU is not counted** ({how}): *with DB* is unknown, and req/CPU-s, "
                      "× trivial and every check below are the provider's alone, as if the database used no CPU.",
                      ""]
        lines += ["| scenario | req/CPU-s with DB | without DB | DB's CPU | × trivial | req/s | req/s per core "
                  "| p50 ms | p99 ms | Keycloak /vCPU/s | others' CPU | target | result |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |"]
        for name in ORDER:
            r = s[name]
            kc = KEYCLOAK.get(name if name != "refresh" else "refresh")
            if name == "trivial":
                with_db, db_share = r["per_cpu_second"], "no DB"
            elif mode == "server":
                share = r.get("db_fraction")
                with_db, db_share = r["per_cpu_second"], f"{share:.0%}" if share is not None else "–"
            elif mode == "in-process":
                with_db, db_share = r["per_cpu_second"], "in-process"
            else:
                with_db, db_share = None, "?"
            without = r.get("per_cpu_second_provider_only", r["per_cpu_second"])
            lines.append(
                f"| {LABELS[name]} | {fmt(with_db)} | {fmt(without)} | {db_share} | {fmt(r['vs_trivial'], 2)} | "
                f"{fmt(r['rps'])} | {fmt(r['rps_per_core'])} | {fmt(r['p50_ms'], 2)} | {fmt(r['p99_ms'], 2)} | "
                f"{kc if kc else ''} | {r['other_cpu_share']:.0%} | {TARGETS.get(name, '')} | "
                f"{scenario_verdict(name, ev)} |")
        pairs = [(LABELS[name], s[name].get("vs_trivial_runs")) for name in RATIO_SCENARIOS if name != "trivial"]
        if all(runs for _, runs in pairs):
            lines += ["", "**× trivial, pair by pair** (each run's req/CPU-s ÷ that of the trivial run measured right "
                      "beside it; the table gives their median): "
                      + "; ".join(f"{label} {', '.join(f'{r:.2f}' for r in runs)}" for label, runs in pairs) + "."
                      + (" Without the database's CPU (for reference, not judged): "
                         + "; ".join(f"{LABELS[name]} {fmt(s[name].get('vs_trivial_provider_only'), 2)}"
                                     for name in RATIO_SCENARIOS if name != "trivial") + "."
                         if mode == "server" else "")]
        sg = ev["signin"]
        who = "the provider and the database" if mode == "server" else "the server"
        alone = (f" ({sg['provider_cpu_ms_per_signin']} ms the provider alone: "
                 f"{sg['overhead_cpu_provider_only']:.1%})" if mode == "server" and "provider_cpu_ms_per_signin" in sg
                 else "")
        lines += ["", f"**Sign-in vs the bcrypt bound.** One check at cost {sg['bcrypt_cost']} takes "
                  f"{sg['bcrypt_median_ms']} ms (median, measured in this run beside the sign-in runs), so "
                  f"{m['cores']} cores can do at most {sg['bound_per_second']} sign-ins/s; the provider did "
                  f"{sg['measured_per_second']}/s: overhead **{sg['overhead_wall']:.1%}** (wall clock). Per "
                  f"CPU-second: a sign-in cost {who} {sg['cpu_ms_per_signin']} ms of CPU against "
                  f"{sg['bcrypt_median_ms']} ms for bcrypt alone: overhead **{sg['overhead_cpu']:.1%}**{alone}.", ""]
        lines += rsa_bound_lines(m, s)
        mem = db["memory_mb"]
        lines += [f"**Memory.** Peak per provider worker: RSS {mem['provider_worker_peak']['rss']:.1f} MB, "
                  f"PSS {mem['provider_worker_peak']['pss']:.1f} MB, unique {mem['provider_worker_peak']['uss']:.1f} MB "
                  f"(master RSS {mem['provider_master_rss']:.1f} MB; trivial app worker RSS "
                  f"{mem['trivial_worker_peak']['rss']:.1f} MB).", ""]
        if not ev["scale"]:
            lines += ["**Scale**: not measured (`--no-scale`): latency from the small to the large account table "
                      "is not checked in this report."]
        else:
            lines += [f"**Scale** (the store as the runs above left it, {db['accounts_small']:,} accounts, beside "
                      f"a copy of it grown to {db['accounts_large']:,} accounts in {db['fill_seconds']} s, each with "
                      "a provider of its own, measured in turns; oauth_tokens rows "
                      f"{db['rows_small']['oauth_tokens']:,} → {db['rows_large']['oauth_tokens']:,}). Ratios are "
                      "medians of large ÷ small over the pairs of runs made one after the other:", "",
                      f"| scenario | p50 ms at {db['accounts_small']:,} | p50 ms at {db['accounts_large']:,} | ratio "
                      f"| p99 ms small → large | req/CPU-s{' with DB' if mode == 'server' else ''} small → large "
                      "| ratio | result |",
                      "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
            for name, sc in ev["scale"].items():
                ok = next(c["result"] for c in ev["checks"] if c["check"].startswith(f"{name}: p50"))
                lines.append(f"| {LABELS[name]} | {fmt(sc['small']['p50_ms'], 2)} | "
                             f"{fmt(sc['large']['p50_ms'], 2)} | {fmt(sc['p50_ratio'], 2)} | "
                             f"{fmt(sc['small']['p99_ms'], 1)} → {fmt(sc['large']['p99_ms'], 1)} | "
                             f"{fmt(sc['small']['per_cpu_second'])} → {fmt(sc['large']['per_cpu_second'])} | "
                             f"{fmt(sc['per_cpu_ratio'], 2)} | {ok} |")
        imp = db.get("import")
        if imp:
            lines += ["", f"**Policy import** (`bench/import_policies.py --count {imp['count']:,}`, fresh "
                      f"{kind} store, median of {len(imp['runs'])}): {fmt(imp['per_second'])} policies/s, "
                      f"{fmt(imp['per_cpu_second'])} policies per CPU-second of the importing process."]
        lines += ["", "| check | measured | target | result |", "| --- | ---: | --- | --- |"]
        for c in ev["checks"]:
            value = c["measured"]
            shown = (f"{value:.1%}" if c["unit"] == "fraction" and value is not None
                     else f"{fmt(value, 2)} {c['unit']}".strip())
            lines.append(f"| {c['check']} | {shown} | {c['target']} | {c['result']} |")
        lines.append("")
    failed = [(db["database"], c["check"]) for db in report["databases"] for c in db["evaluation"]["checks"]
              if c["result"] == "FAIL"]
    lines += ["## Verdict", ""]
    if failed:
        lines += [f"{len(failed)} check(s) missed:", ""] + [f"- {kind}: {name}" for kind, name in failed]
    else:
        lines.append("Every target met.")
    if report.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {n}" for n in report["notes"]]
    (out / "report.md").write_text("\n".join(lines) + "\n")


# -- main ----------------------------------------------------------------------------------------------------------

_T0 = time.monotonic()


def rsa_bound_lines(meta: dict, scenarios: dict) -> list[str]:
    """The code exchange and refresh against their one fixed cost, the ID token's RSA signature (the
    machine's speed, :mod:`calibrate`): the most either could do per CPU-second if it did nothing else. The
    signature is the provider's work: compared with the provider's CPU alone (without the database's)."""
    speed = meta.get("machine_speed") or {}
    times = [speed[when]["rsa2048_sign_ms"] for when in ("start", "end") if when in speed]
    if not times:
        return []
    sign_ms = statistics.median(times)
    bound = 1000 / sign_ms
    def provider_only(name: str) -> float | None:
        row = scenarios.get(name, {})
        return row.get("per_cpu_second_provider_only") or row.get("per_cpu_second")

    shares = "; ".join(f"{LABELS[name]} {fmt(provider_only(name))} (**{provider_only(name) / bound:.0%}** of it)"
                       for name in ("code_exchange", "refresh") if provider_only(name))
    return [f"**Code exchange and refresh vs the RSA bound.** Each issues an ID token: one RSA-2048 signature, "
            f"{sign_ms:.3f} ms on this machine during this run, so at most {bound:,.0f} per CPU-second of the "
            f"provider even if nothing else were done. Measured (req/CPU-s without DB): {shares}.", ""]


def log(message: str) -> None:
    print(f"{time.monotonic() - _T0:7.1f}s {message}", flush=True)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs, fewer repeats, 100,000 accounts")
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"),
                        help="the database(s) (default both; with --flood, sqlite)")
    parser.add_argument("--out", default=str(BENCH / "results"))
    parser.add_argument("--repeats", type=int, help="runs per scenario (default 3; --quick 2)")
    parser.add_argument("--ratio-repeats", type=int,
                        help="runs in all of UserInfo, the trivial endpoint and introspection, whose targets are "
                             "ratios (default 7; --quick 3; with --only, --repeats)")
    parser.add_argument("--duration", type=float, help="seconds per run (default 8; --quick 4)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--bcrypt-rounds", type=int, help="IDP_BCRYPT_ROUNDS (default: the provider's, 12)")
    parser.add_argument("--import-count", type=int, help="policies per import run (default 20,000; --quick 5,000)")
    parser.add_argument("--no-import", action="store_true", help="skip the policy import rate")
    parser.add_argument("--no-scale", action="store_true",
                        help="skip the scale step (a copy of the store grown to 1,000,000 accounts, 100,000 with "
                             "--quick, and its runs): a short check of the other figures; the report says the "
                             "scale check was not made")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders (logs, SQLite file)")
    parser.add_argument("--render", metavar="REPORT_JSON",
                        help="write report.md again from a report.json (to --out), measuring nothing: the "
                             "checks evaluated again from its runs, against the targets as this script has "
                             "them")
    parser.add_argument("--only", type=lambda v: set(v.split(",")) | {"trivial"},
                        help="a developer's run: these scenarios (comma-separated, see RUN_ORDER) and the trivial "
                             "endpoint, no scale step, no import; medians logged, no report written")
    parser.add_argument("--flood", action="store_true",
                        help="the credential-stuffing flood scenario (issue 27; bench/flood.py) instead of the "
                             "benchmark: an idle baseline, then wrong-password floods at 16 and 64 connections, "
                             "with sign-in, UserInfo and client_credentials probes; writes flood.md and flood.json")
    parser.add_argument("--flood-duration", type=float, default=60,
                        help="--flood: seconds of each flood phase (default 60)")
    parser.add_argument("--flood-idle", type=float, default=30,
                        help="--flood: seconds of the idle baseline (default 30)")
    parser.add_argument("--flood-connections", type=lambda v: [int(x) for x in v.split(",")], default=[16, 64],
                        help="--flood: wrk connections of the flood phases, in order (default 16,64)")
    parser.add_argument("--flood-accounts", type=int, default=1000,
                        help="--flood: accounts in the store (default 1,000; the first 10 are the probes')")
    cfg = parser.parse_args()
    if cfg.flood:
        import flood

        cfg.db = cfg.db or "sqlite"
        flood.main(sys.modules[__name__], cfg, ensure_wrk())
        return
    cfg.db = cfg.db or "both"
    if cfg.render:
        report = json.loads(Path(cfg.render).read_text())
        for db in report["databases"]:
            if "db_cpu" not in db and db["database"] == "postgres":
                log("note: this report.json predates the count of the database server's CPU: its PostgreSQL "
                    "req/CPU-s is the provider's alone (the database's CPU unknown, treated as 0), and so are "
                    "its checks; the report says so")
            complete_old_report(db)
            db["evaluation"] = evaluate(db, report["meta"]["cores"])
        write_report(report, Path(cfg.out))
        log(f"wrote {Path(cfg.out) / 'report.md'} and report.json")
        return
    if cfg.only and not cfg.only <= set(RUN_ORDER):
        parser.error(f"--only: unknown scenario(s) {', '.join(sorted(cfg.only - set(RUN_ORDER)))}")
    cfg.repeats = cfg.repeats or (2 if cfg.quick else 3)
    cfg.ratio_repeats = max(cfg.repeats, cfg.ratio_repeats or (cfg.repeats if cfg.only else 3 if cfg.quick else 7))
    cfg.duration = cfg.duration or (4 if cfg.quick else 8)
    cfg.signin_duration = max(cfg.duration, 6 if cfg.quick else 12)
    cfg.small_accounts = 1_000
    cfg.large_accounts = 100_000 if cfg.quick else 1_000_000
    cfg.import_count = cfg.import_count or (5_000 if cfg.quick else 20_000)
    wrk = ensure_wrk()
    wrk_version = subprocess.run([wrk, "--version"], capture_output=True, text=True).stdout.split("[")[0].strip()
    from idp.settings import Settings

    rounds = cfg.bcrypt_rounds or Settings().bcrypt_rounds
    import gunicorn

    started = datetime.now(timezone.utc)
    speed = calibrate()
    log(f"machine speed: {speed}")
    report = {"meta": {
        "started": started.strftime("%Y-%m-%d %H:%M UTC"), "quick": cfg.quick, "cores": CORES, "cpu": cpu_model(),
        "python": platform.python_version(), "repeats": cfg.repeats, "ratio_repeats": cfg.ratio_repeats,
        "duration": cfg.duration,
        "signin_duration": cfg.signin_duration, "connections": cfg.connections, "bcrypt_rounds": rounds,
        "load_generator": f"{wrk_version}, {cfg.threads} threads, on the same {CORES} cores",
        "gunicorn": f"gunicorn {gunicorn.__version__}, {CORES} gthread workers × 4 threads, preload",
        "machine_speed": {"start": speed}, "code": code_version(), "no_scale": cfg.no_scale,
    }, "databases": [], "notes": []}
    rng = random.Random(2026)
    kinds = ["sqlite", "postgres"] if cfg.db == "both" else [cfg.db]
    for kind in kinds:
        bench = Bench(kind, cfg, wrk, rng)
        try:
            result = bench.run()
        finally:
            bench.close()
        if cfg.only:
            log_medians(result)
            continue
        result.update(accounts_small=cfg.small_accounts, accounts_large=cfg.large_accounts, bcrypt_rounds=rounds,
                      database_note=("SQLite file in WAL mode, synchronous=NORMAL" if kind == "sqlite"
                                     else "PostgreSQL on 127.0.0.1, same machine"))
        if not cfg.no_import:
            result["import"] = import_rate(kind, cfg.import_count, 1 if cfg.quick else 3)
        result["evaluation"] = evaluate(result)
        report["databases"].append(result)
    if cfg.only:
        return
    report["meta"]["machine_speed"]["end"] = calibrate()
    log(f"machine speed: {report['meta']['machine_speed']['end']}")
    report["meta"]["elapsed_minutes"] = round((time.monotonic() - _T0) / 60, 1)
    report["notes"] = NOTES
    write_report(report, Path(cfg.out))
    log(f"wrote {Path(cfg.out) / 'report.md'} and report.json")
    for db in report["databases"]:
        for c in db["evaluation"]["checks"]:
            log(f"  {db['database']:<8} {c['result']:<4} {c['check']}: {c['measured']} (target {c['target']})")


def log_medians(result: dict) -> None:
    """A developer's run (--only): each scenario's medians, and its runs against the trivial runs beside them."""
    runs = result["runs"]
    for name, row in runs.items():
        pairs = pair_ratios(list(zip(runs["trivial"], row)), "per_cpu_second")
        ratio = f"{statistics.median(pairs):.2f} ({', '.join(f'{r:.2f}' for r in pairs)})" if pairs else "n/a"
        db = median_of(row, "db_cpu_seconds")
        without = (f" (without DB {median_of(row, 'per_cpu_second_provider_only')}, DB {db} CPU-s)"
                   if db is not None else "")
        log(f"[{result['database']}] median {name:<19} {median_of(row, 'per_cpu_second'):>9} req/CPU-s{without}  "
            f"p99 {median_of(row, 'p99_ms'):7.2f} ms  × trivial {ratio}")


NOTES = [
    "The load generator (wrk, C, 2 threads) and PostgreSQL share the machine's cores with the provider. "
    "req/CPU-s with DB counts the gunicorn processes and, on PostgreSQL, the database server's (its postmaster, "
    "found as the parent of an admin connection's backend and checked against pg_postmaster_start_time(); the "
    "postmaster itself, its auxiliary processes and the benchmark databases' backends; other databases' backends "
    "are other people's work and stay in others' CPU): the targets are judged on it. req/CPU-s without DB is "
    "the gunicorn processes alone, what a provider whose database runs on another machine spends itself. "
    "report.json keeps each run's db_cpu_seconds, and db_tree_cpu_seconds (the postmaster's whole tree, other "
    "databases and reaped processes included) as an upper bound.",
    "The trivial endpoint is a one-route Flask app (bench/trivial_app.py) under the same gunicorn.conf.py; "
    "the provider's /healthz row shows what the provider's request hooks (session, locale, request id, "
    "metrics, security headers) cost on top of it.",
    "× trivial is the median, over the repeats, of each run's req/CPU-s divided by the trivial endpoint's in "
    "the same repeat (UserInfo and introspection are measured right before and right after it): a core of "
    "this shared machine is up to ±40% faster or slower from one minute to the next, with other tenants' "
    "load. UserInfo, introspection and the trivial endpoint run in further rounds after the repeats "
    "(--ratio-repeats), so that a disturbed run now and then cannot decide their median. report.json also "
    "keeps every pair's ratio (vs_trivial_runs) and the ratio of the two medians (vs_trivial_of_medians).",
    "Codes and refresh tokens are single use: each run spends freshly minted ones (bench/data.py); a run "
    "that ran out would be flagged.",
    "Keycloak's sizing figures are per vCPU of a whole deployment; they are shown beside req/s per core.",
]


if __name__ == "__main__":
    main()
