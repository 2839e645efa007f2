"""Prometheus metrics at ``/metrics``.

Counters are fed from the places where things happen once: every audit event (sign-ins by outcome,
resets, tokens, admin actions), every delivery outcome, and every request's latency. Under gunicorn
with several workers set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory shared by the workers, so
``/metrics`` adds up all of them (prometheus-client's multiprocess mode).
"""
from __future__ import annotations

import os
import time

from flask import Blueprint, Flask, Response, g, request
from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest,
                               multiprocess)

bp = Blueprint("metrics", __name__)

EVENTS = Counter("idp_events_total", "Security events recorded in the audit trail, by event name", ["event"])
DELIVERIES = Counter("idp_deliveries_total", "Outbox delivery attempts, by channel and resulting status",
                     ["channel", "status"])
LATENCY = Histogram("idp_request_seconds", "Request latency by endpoint and method", ["endpoint", "method"],
                    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))


def count_event(event: str) -> None:
    EVENTS.labels(event=event).inc()


def count_delivery(channel: str, status: str) -> None:
    DELIVERIES.labels(channel=channel, status=status).inc()


@bp.get("/metrics")
def metrics():
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        data = generate_latest(registry)
    else:
        data = generate_latest()
    return Response(data, mimetype=CONTENT_TYPE_LATEST)


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
    """``/metrics``, and (``hooks``) the latency of every request timed by hooks of its own; the provider's
    app passes ``hooks=False`` and times requests in its one request hook with the returned timer."""
    app.register_blueprint(bp)
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
