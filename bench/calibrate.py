"""How fast this machine is right now, in three figures that do not depend on the provider's code.

    .venv/bin/python bench/calibrate.py          # prints them as JSON

The development machines are shared virtual machines whose speed drifts, from minute to minute and from
day to day (the same commit measured 1,276 and ~400 client_credentials req/CPU-s on two days). A report's
figures mean little without the speed of the machine that made them, so ``bench/run.py`` measures these
at the start and at the end of every run and prints them in the report:

* ``rsa2048_sign_ms``: one RS256 signature with a 2048-bit key (``cryptography``, as every ID token is
  signed): the code exchange's and refresh's largest single cost;
* ``python_us``: a fixed piece of pure-Python work (dicts, strings, calls, a loop): what most of a
  request's CPU is made of;
* ``process_round_trip_us``: one byte sent to another process over a socket pair and one byte back,
  wall clock: two wake-ups and context switches, what every request served by gunicorn pays several times
  (wrk ↔ worker, and between a worker's threads). On nested virtual machines this is the figure that
  moves most.

Each is the median of several batches, measured in this process alone (the other core idle, if the
machine is otherwise quiet).
"""
from __future__ import annotations

import json
import os
import socket
import statistics
import time


def _median_batch(function, *, batches: int = 7, per_batch: int = 200) -> float:
    """Median over ``batches`` of the mean process time of ``per_batch`` calls, in seconds."""
    results = []
    for _ in range(batches):
        started = time.process_time()
        for _ in range(per_batch):
            function()
        results.append((time.process_time() - started) / per_batch)
    return statistics.median(results)


def rsa_sign_seconds() -> float:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    message = b"x" * 600  # about an ID token's signing input
    pad, digest = padding.PKCS1v15(), hashes.SHA256()
    return _median_batch(lambda: key.sign(message, pad, digest), per_batch=100)


def _python_work() -> int:
    data: dict[str, int] = {}
    total = 0
    for i in range(200):
        key = f"k{i % 37}"
        data[key] = data.get(key, 0) + i
        total += len(key.upper()) + (i & 7)
    return total + sum(data.values())


def python_seconds() -> float:
    return _median_batch(_python_work, per_batch=500)


def process_round_trip_seconds(count: int = 5000, batches: int = 5) -> float:
    """Wall-clock time of one byte there and back between two processes (median of ``batches``)."""
    results = []
    for _ in range(batches):
        parent, child = socket.socketpair()
        pid = os.fork()
        if pid == 0:  # the echo
            try:
                parent.close()
                for _ in range(count):
                    child.sendall(child.recv(1))
            finally:
                os._exit(0)
        child.close()
        started = time.perf_counter()
        for _ in range(count):
            parent.sendall(b"x")
            parent.recv(1)
        results.append((time.perf_counter() - started) / count)
        os.waitpid(pid, 0)
        parent.close()
    return statistics.median(results)


def calibrate() -> dict:
    return {"rsa2048_sign_ms": round(rsa_sign_seconds() * 1e3, 3),
            "python_us": round(python_seconds() * 1e6, 1),
            "process_round_trip_us": round(process_round_trip_seconds() * 1e6, 1)}


if __name__ == "__main__":
    print(json.dumps(calibrate()))
