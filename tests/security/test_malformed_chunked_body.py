"""A malformed chunked request body is the client's error: 400, never a 500 (issue 22, finding 4).

Under gunicorn the body of a ``Transfer-Encoding: chunked`` request is parsed as the application reads
``wsgi.input``: a bad chunk size, a chunk without its CRLF, or a body cut off before its last chunk raises
from that read. Each is sent here over a raw socket to a real gunicorn (the project's ``gunicorn.conf.py``,
on this test's database) on the pages application (``/login``), the protocol API (``/oauth/token``) and a
JSON API (``/api/v1/policies``, with a valid token, so that the body is read), and each must answer 400
in the manner of its application, with nothing logged as an unexpected failure.
"""
from __future__ import annotations

import base64
import json
import os
import socket
import time

import pytest
import requests

from idp.extensions import db
from tests.multi_instance.conftest import _start, _stop, _wait_ready

#: Chunked bodies gunicorn refuses as it reads them, and whether the client then half-closes (EOF).
MALFORMED = {
    "bad chunk size": (b"zz\r\nabc\r\n0\r\n\r\n", False),
    "chunk without its CRLF": (b"3\r\nabcXX0\r\n\r\n", False),
    "no last chunk (EOF)": (b"3\r\nabc\r\n", True),
    "no end of trailers (EOF)": (b"3\r\nabc\r\n0\r\n", True),
}


@pytest.fixture
def gunicorn(app, settings, tmp_path):
    """A real gunicorn serving this test's database, keys and secret; and a policy system's token."""
    from idp.clients import create_client

    services = app.extensions["idp"]
    with app.app_context():
        system = create_client(services.settings, name="Полисная система", scopes=["policies:write"],
                               grant_types=["client_credentials"], redirect_uris=[], now=services.clock.now())
        db.session.commit()
        credentials = (system.client.client_id, system.secret)
        db.session.remove()
        db.engine.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IDP_", "GUNICORN_"))}
    env.update(IDP_DATABASE_URL=settings.database_url, IDP_SECRET_KEY=settings.secret_key,
               IDP_ISSUER=settings.issuer, IDP_KEYS_DIR=settings.keys_dir, IDP_INSTANCE_DIR=settings.instance_dir,
               IDP_MAILBOX_PATH=settings.mailbox_path, IDP_BCRYPT_ROUNDS="4", PYTHONUNBUFFERED="1")
    instance = _start("chunked", env, tmp_path)
    try:
        _wait_ready(instance, time.monotonic() + 30)
        token = requests.post(instance.url + "/oauth/token", auth=credentials, timeout=10,
                              data={"grant_type": "client_credentials", "scope": "policies:write"})
        assert token.status_code == 200, token.text
        yield instance, credentials, token.json()["access_token"]
    finally:
        _stop([instance])
    log = instance.log()
    assert "Traceback" not in log and "unhandled error" not in log, log


def raw_post(url: str, path: str, headers: dict, body: bytes, half_close: bool) -> tuple[int, dict, bytes]:
    """POST a chunked ``body`` as it is over one connection; the status, headers and body of the answer."""
    host, port = url.removeprefix("http://").split(":")
    head = "".join(f"{name}: {value}\r\n" for name, value in
                   {"Host": f"{host}:{port}", "Transfer-Encoding": "chunked", **headers}.items())
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\n{head}\r\n".encode("latin-1") + body)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        received = b""
        while True:  # after a body it could not read, the server closes the connection
            data = sock.recv(65536)
            if not data:
                break
            received += data
    head, _, content = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    answer_headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    length = int(answer_headers.get("content-length", len(content)))
    assert len(content) == length, f"one whole answer expected, got {received!r}"
    return int(status_line.split()[1]), answer_headers, content


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_chunked_body_is_a_bad_request(gunicorn, case):
    instance, credentials, token = gunicorn
    body, half_close = MALFORMED[case]
    form = {"Content-Type": "application/x-www-form-urlencoded"}

    status, headers, content = raw_post(instance.url, "/login", {**form, "Accept": "text/html"}, body, half_close)
    assert status == 400, content
    assert headers["content-type"].startswith("text/html")  # the pages' error page
    assert b'data-code="bad_request"' in content

    status, headers, content = raw_post(instance.url, "/oauth/token", form, body, half_close)
    assert status == 400, content
    assert headers["content-type"] == "application/json"
    assert json.loads(content) == {"error": "invalid_request"}

    status, headers, content = raw_post(instance.url, "/api/v1/policies",
                                        {"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
                                        body, half_close)
    assert status == 400, content
    assert headers["content-type"] == "application/json"
    assert json.loads(content)["error"] == "invalid_request"

    # A well-formed chunked request is answered as usual.
    grant = b"grant_type=client_credentials&scope=policies%3Awrite"
    basic = base64.b64encode(":".join(credentials).encode()).decode()
    status, _, content = raw_post(instance.url, "/oauth/token", {**form, "Authorization": f"Basic {basic}",
                                                                   "Connection": "close"},
                                  b"%x\r\n%s\r\n0\r\n\r\n" % (len(grant), grant), False)
    assert status == 200 and "access_token" in json.loads(content), content
