"""Prometheus metrics, served on a listener of their own (``IDP_METRICS_BIND``), never on the public one.

Counters are fed from the places where things happen once: every audit event (sign-ins by outcome,
resets, tokens, admin actions), every delivery outcome, and every request's latency. Some of them move
only for real accounts (``temporary.issued`` after «Забыли пароль?»), so whoever reads them learns which
logins exist: the public application has no ``/metrics`` (404 like any unknown path), and :func:`serve`
answers on a separate address (loopback, or a private network Prometheus alone reaches). Under gunicorn the
master serves it (``gunicorn.conf.py``) and the workers' values are added up through prometheus-client's
multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, which ``gunicorn.conf.py`` makes when unset); ``idp run``
serves it from a thread of the development server (:mod:`idp.cli.run`).
"""
from __future__ import annotations

import os
import time
from wsgiref.simple_server import WSGIServer

from flask import Flask, g, request
from prometheus_client import (REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, multiprocess,
                               start_http_server)

EVENTS = Counter("idp_events_total", "Security events recorded in the audit trail, by event name", ["event"])
DELIVERIES = Counter("idp_deliveries_total", "Outbox delivery attempts, by channel and resulting status",
                     ["channel", "status"])
SMS_DEFERRED = Counter("idp_sms_deferred_total", "SMS held back in the outbox by the SMS budget, by the limit "
                       "reached (hour: IDP_SMS_PER_HOUR; phone: IDP_SMS_PER_PHONE_PER_DAY)", ["limit"])
SHED = Counter("idp_signin_shed_total", "Sign-in attempts refused (429) because their lane's password-check queue "
               "was full (lane: priority for known devices, retry for retry tickets, normal)", ["lane"])
SHEDDING = Gauge("idp_signin_shedding", "1 while some worker is shedding sign-ins (an episode ends after 60 s "
                 "without a refusal)", multiprocess_mode="livemax")
LATENCY = Histogram("idp_request_seconds", "Request latency by endpoint and method", ["endpoint", "method"],
                    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))


def count_event(event: str) -> None:
    EVENTS.labels(event=event).inc()


def count_delivery(channel: str, status: str) -> None:
    DELIVERIES.labels(channel=channel, status=status).inc()


def count_sms_deferred(limit: str) -> None:
    SMS_DEFERRED.labels(limit=limit).inc()


def registry() -> CollectorRegistry:
    """What the metrics listener shows: this process's metrics or, in multiprocess mode, every process's
    added up (read from ``PROMETHEUS_MULTIPROC_DIR`` at each scrape)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        shared = CollectorRegistry()
        multiprocess.MultiProcessCollector(shared)
        return shared
    return REGISTRY


def serve(address: tuple[str, int]) -> WSGIServer:
    """The metrics listener on ``address`` (host, port), answering from a daemon thread: the Prometheus text
    on any path (``/metrics`` by convention), and nothing else. Stop it with ``shutdown()``."""
    host, port = address
    server, _thread = start_http_server(port, host, registry=registry())
    return server


class RequestTimer:
    """Every request's latency into :data:`LATENCY`, by endpoint and method: ``started = timer.start()`` when
    the request begins, ``timer.observe(endpoint, method, started)`` when its response is ready."""

    def __init__(self):
        self._series: dict = {}  # (endpoint, method) → the histogram's child: labels() validates and locks

    start = staticmethod(time.perf_counter)

    def observe(self, endpoint: str | None, method: str, started: float) -> None:
        key = (endpoint or "unknown", method)
        child = self._series.get(key)
        if child is None:
            child = self._series[key] = LATENCY.labels(endpoint=key[0], method=key[1])
        child.observe(time.perf_counter() - started)


def install(app: Flask, *, hooks: bool = True) -> RequestTimer:
    """The timer of every request's latency, and (``hooks``) hooks of its own that time them; the provider's
    app passes ``hooks=False`` and times requests in its one request hook with the returned timer. No route:
    the metrics are served by :func:`serve`, off the public listener."""
    timer = RequestTimer()
    if hooks:
        @app.before_request
        def _start_timer():
            g.request_started = timer.start()

        @app.after_request
        def _observe(response):
            started = g.get("request_started")
            if started is not None:
                timer.observe(request.endpoint, request.method, started)
            return response
    return timer
