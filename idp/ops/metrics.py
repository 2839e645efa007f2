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


def install(app: Flask) -> None:
    app.register_blueprint(bp)

    @app.before_request
    def _start_timer():
        g.request_started = time.perf_counter()

    series: dict = {}  # (endpoint, method) → the histogram's child: labels() validates and locks every call

    @app.after_request
    def _observe(response):
        started = g.get("request_started")
        if started is not None:
            key = (request.endpoint or "unknown", request.method)
            child = series.get(key)
            if child is None:
                child = series[key] = LATENCY.labels(endpoint=key[0], method=key[1])
            child.observe(time.perf_counter() - started)
        return response
