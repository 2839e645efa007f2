"""Structured logs: one JSON object per line, each with the request id of the request it belongs to.

The request id comes from ``X-Request-ID`` when a proxy sets a sane one, else it is made here; it is
returned in the response's ``X-Request-ID`` so a customer's report can be found in the logs.
"""
from __future__ import annotations

import json
import logging
import re
import secrets
from datetime import datetime, timezone

from flask import Flask, g, has_app_context, request

_SANE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestIdFilter(logging.Filter):
    """The request id of the record's request (``g.request_id``, set by the request hook of the pages
    application and of the protocol API), else ``-``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:  # the protocol API names it (``extra``)
            record.request_id = g.get("request_id", "-") if has_app_context() else "-"
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(json_logs: bool) -> None:
    """Set up the root logger once (a host that configured logging itself is left alone)."""
    root = logging.getLogger()
    if root.handlers:
        for handler in root.handlers:
            if not any(isinstance(f, RequestIdFilter) for f in handler.filters):
                handler.addFilter(RequestIdFilter())
        return
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if json_logs else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def request_id(environ: dict) -> str:
    """This request's id: the proxy's ``X-Request-ID`` when it is sane, else a new random one."""
    incoming = environ.get("HTTP_X_REQUEST_ID", "")
    return incoming if incoming and _SANE_ID.match(incoming) else secrets.token_hex(8)


def install_request_ids(app: Flask) -> None:
    """Request ids as hooks of their own (the provider's app sets them in its one request hook instead)."""
    @app.before_request
    def _request_id():
        g.request_id = request_id(request.environ)

    @app.after_request
    def _echo(response):
        if "request_id" in g:
            response.headers["X-Request-ID"] = g.request_id
        return response
