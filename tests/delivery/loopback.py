"""Loopback HTTP endpoints that play a misbehaving SES or SNS, for the delivery tests.

* :class:`SlowEndpoint` — accepts every connection and reads every request, then never answers
  (``answer_after=None``) or answers only after a delay longer than the client's read timeout. It counts the
  requests it received: what the provider would have taken (and billed).
* :class:`ErrorRelay` — forwards each request to moto (tests/aws.py) unless the test scripted an answer for
  it: a documented AWS error response (status, ``x-amzn-ErrorType`` and JSON body for SES API v2; the
  query protocol's XML ``ErrorResponse`` for SNS), which boto3 parses as it parses AWS's own.

Both are tiny threaded servers on 127.0.0.1, port 0; boto3 reaches them through ``AWS_ENDPOINT_URL``, and
nothing in boto3 or the transports is patched.
"""
from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass

import requests


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def service(self) -> str:
        """``ses`` or ``sns`` (the signing name in the Authorization header)."""
        authorization = self.headers.get("authorization", "")
        for part in authorization.replace(",", " ").split():
            if part.startswith("Credential="):
                scope = part.removeprefix("Credential=").split("/")
                return scope[3] if len(scope) >= 5 else ""
        return ""


def _read_request(connection: socket.socket) -> Request | None:
    """One HTTP/1.1 request off ``connection`` (None when the client closed it first)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("iso-8859-1").split("\r\n")
    method, path, _version = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length") or 0)
    while len(body) < length:
        chunk = connection.recv(65536)
        if not chunk:
            return None
        body += chunk
    return Request(method, path, headers, body[:length])


def _response(status: int, headers: dict[str, str], body: bytes) -> bytes:
    reasons = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 429: "Too Many Requests",
               500: "Internal Server Error", 503: "Service Unavailable"}
    lines = [f"HTTP/1.1 {status} {reasons.get(status, 'Status')}"]
    headers = {**headers, "Content-Length": str(len(body))}
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("iso-8859-1") + body


class _Server:
    """A threaded TCP server on a loopback port: one thread per connection, :meth:`handle` per request."""

    def __init__(self):
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.received: list[Request] = []
        self._lock = threading.Lock()
        self._connections: list[socket.socket] = []
        self._closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._closed.set()
        self._listener.close()
        with self._lock:
            for connection in self._connections:
                try:
                    connection.close()
                except OSError:
                    pass

    def requests(self, service: str | None = None) -> list[Request]:
        with self._lock:
            return [r for r in self.received if service in (None, r.service)]

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._connections.append(connection)
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        try:
            while not self._closed.is_set():
                request = _read_request(connection)
                if request is None:
                    return
                with self._lock:
                    self.received.append(request)
                answer = self.handle(request)
                if answer is None:
                    return
                connection.sendall(answer)
        except OSError:
            return

    def handle(self, request: Request) -> bytes | None:
        raise NotImplementedError


class SlowEndpoint(_Server):
    """Takes every request and answers it never (``answer_after=None``) or after ``answer_after`` seconds,
    with the success SES or SNS would have sent."""

    def __init__(self, answer_after: float | None = None):
        self.answer_after = answer_after
        super().__init__()

    def handle(self, request: Request) -> bytes | None:
        if self.answer_after is None:
            self._closed.wait()  # hold the connection open, silent, until the test ends
            return None
        time.sleep(self.answer_after)
        if request.service == "sns":
            body = (b'<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult>'
                    b"<MessageId>late-1</MessageId></PublishResult>"
                    b"<ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></PublishResponse>")
            return _response(200, {"Content-Type": "text/xml"}, body)
        return _response(200, {"Content-Type": "application/json"}, b'{"MessageId": "late-1"}')


# --- documented AWS error responses ---------------------------------------------------------------------

@dataclass(frozen=True)
class AwsError:
    status: int
    headers: dict[str, str]
    body: bytes


def ses_error(code: str, status: int, message: str = "") -> AwsError:
    """An SES API v2 error (REST-JSON): the status, the code in ``x-amzn-ErrorType``, ``{"message": …}``."""
    return AwsError(status, {"Content-Type": "application/json", "x-amzn-ErrorType": f"{code}:",
                             "x-amzn-RequestId": "00000000-0000-0000-0000-000000000000"},
                    json.dumps({"message": message or code}).encode())


def sns_error(code: str, status: int, message: str = "", kind: str = "Sender") -> AwsError:
    """An SNS error (query protocol): ``<ErrorResponse><Error><Type/><Code/><Message/></Error>…``."""
    body = (f'<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>{kind}</Type>'
            f"<Code>{code}</Code><Message>{message or code}</Message></Error>"
            f"<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>")
    return AwsError(status, {"Content-Type": "text/xml"}, body.encode())


class ErrorRelay(_Server):
    """Forwards to moto at ``target``, except requests for which an answer was scripted with :meth:`fail`."""

    def __init__(self, target: str):
        self.target = target
        self._scripted: list[AwsError] = []
        self._http = requests.Session()
        self._http.trust_env = False
        super().__init__()

    def fail(self, *errors: AwsError) -> None:
        """Answer the next ``len(errors)`` requests with these errors, in order; forward the rest to moto."""
        with self._lock:
            self._scripted.extend(errors)

    def handle(self, request: Request) -> bytes:
        with self._lock:
            scripted = self._scripted.pop(0) if self._scripted else None
        if scripted is not None:
            return _response(scripted.status, scripted.headers, scripted.body)
        headers = {k: v for k, v in request.headers.items()
                   if k not in ("host", "content-length", "connection")}
        answer = self._http.request(request.method, self.target + request.path, headers=headers,
                                    data=request.body, timeout=10)
        kept = {k: v for k, v in answer.headers.items()
                if k.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding")}
        return _response(answer.status_code, kept, answer.content)
