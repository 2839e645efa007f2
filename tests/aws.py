"""pytest plugin: moto in server mode on loopback, so the SES and SNS transports are tested over real HTTP.

Fixtures:

``moto_server``
    A clean moto for one test. boto3's standard variables (``AWS_ENDPOINT_URL``, ``AWS_REGION``,
    ``AWS_DEFAULT_REGION``, dummy credentials) point at it, the default sender (``eservices@metlife.ru``)
    is a verified SES identity, as real SES requires, and the returned :class:`MotoServer` tells what SES
    and SNS received: :meth:`MotoServer.emails`, :meth:`MotoServer.sms`, :meth:`MotoServer.requests`.
    Build apps (``make_app(email_transport="ses", …)``) *after* requesting it: boto3 reads the
    variables when the courier creates its clients.
``aws_unreachable``
    The same variables pointing at a closed loopback port: every SES or SNS call fails to connect.

The server is moto's ``ThreadedMotoServer`` in a process of its own, started by a tiny launcher on port
0 (the kernel picks a free port, so there is no race for it), once per test session on first use, and
reset (``POST /moto-api/reset``) before every test. The test process never imports moto, and nothing in
boto3 or the transports is patched: boto3 talks to moto as it talks to AWS.

What the server received is read back over HTTP too:

* ``GET /moto-api/data.json``: moto's model state, among it the e-mails SES accepted (``ses.Message``:
  id, source, destinations, subject, one body) and the SMS SNS accepted (``sns.SMS``: message id,
  phone number, text);
* ``GET /moto-api/recorder/download-recording``: every request as it arrived (the server runs with
  ``MOTO_ENABLE_RECORDING``), for what moto does not keep: the text part beside the HTML part, the
  charsets, the SMS attributes (``AWS.SNS.SMS.SMSType``, ``AWS.SNS.SMS.SenderID``), the signing region,
  and requests moto refused.
"""
from __future__ import annotations

import base64
import json
import os
import select
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from idp.settings import Settings

#: The region the tests configure (any region works with moto; this one has SES and SNS SMS).
REGION = "eu-central-1"
ACCESS_KEY_ID = "AKIAIDPTESTING000000"
SECRET_ACCESS_KEY = "idp-tests-dummy-secret"
#: The sender every ``moto_server`` verifies: the provider's default ``email_from``.
DEFAULT_SENDER = Settings.email_from

#: Variables that would steer boto3 elsewhere than where a test points it; removed for every test.
_FOREIGN_AWS_VARIABLES = (
    "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
    "AWS_ENDPOINT_URL_SESV2", "AWS_ENDPOINT_URL_SES", "AWS_ENDPOINT_URL_SNS",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT", "AWS_DEFAULTS_MODE", "AWS_MAX_ATTEMPTS",
    "AWS_RETRY_MODE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN",
)

_LAUNCHER = """
import sys
from moto.server import ThreadedMotoServer

server = ThreadedMotoServer("127.0.0.1", 0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()  # serve until the test session closes this pipe (or dies)
"""
_START_TIMEOUT = 60  # seconds; moto's import takes about one


def use_aws_endpoint(monkeypatch: pytest.MonkeyPatch, endpoint_url: str, *, scratch: Path,
                     region: str = REGION) -> None:
    """Point boto3's standard variables at ``endpoint_url`` for one test, with dummy credentials.

    ``scratch`` is a folder for a (non-existent) shared config file, so a developer's ``~/.aws`` cannot
    change what the test talks to.
    """
    for name in _FOREIGN_AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint_url)
    monkeypatch.setenv("AWS_REGION", region)
    monkeypatch.setenv("AWS_DEFAULT_REGION", region)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(scratch / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(scratch / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("NO_PROXY", "no_proxy"):  # loopback never goes through a proxy
        monkeypatch.setenv(name, ",".join(filter(None, [os.environ.get(name, ""), "127.0.0.1", "localhost"])))


# --- what the server received -------------------------------------------------------------------------

_SESV2_ACTIONS = {"/v2/email/outbound-emails": "SendEmail", "/v2/email/identities": "CreateEmailIdentity"}


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as it reached moto (from its recorder)."""

    service: str  # the signing name in the Authorization header: "ses" (for sesv2 too), "sns", …
    region: str  # the signing region
    method: str
    path: str
    body: bytes

    @property
    def action(self) -> str:
        """The API action: ``SendEmail``, ``Publish``, … (``METHOD /path`` when not known here)."""
        form = self.form()
        if "Action" in form:
            return form["Action"]
        return _SESV2_ACTIONS.get(self.path.rstrip("/"), f"{self.method} {self.path}")

    def json(self) -> dict:
        try:
            return json.loads(self.body.decode("utf-8") or "{}")
        except ValueError:
            return {}

    def form(self) -> dict[str, str]:
        """The url-encoded parameters of a query-protocol request (SNS), one value each."""
        try:
            text = self.body.decode("ascii")
        except UnicodeDecodeError:
            return {}
        if not text or text.lstrip().startswith("{"):
            return {}
        return {name: values[-1] for name, values in parse_qs(text, keep_blank_values=True).items()}


@dataclass(frozen=True)
class ReceivedEmail:
    """An e-mail SES accepted, as it was sent to it."""

    message_id: str
    sender: str
    to: list[str]
    subject: str
    text: str | None
    html: str | None
    cc: list[str] = field(default_factory=list)
    bcc: list[str] = field(default_factory=list)
    #: Charset declared for each part: {"subject": "UTF-8", "text": "UTF-8", "html": "UTF-8"}.
    charsets: dict[str, str | None] = field(default_factory=dict)
    region: str = ""


@dataclass(frozen=True)
class ReceivedSms:
    """An SMS SNS accepted (``Publish`` to a phone number), as it was sent to it."""

    message_id: str
    phone_number: str
    message: str
    #: Message attributes by name: {"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": …}}.
    attributes: dict[str, dict[str, str]] = field(default_factory=dict)
    region: str = ""

    def attribute(self, name: str) -> str | None:
        value = self.attributes.get(name)
        return value.get("StringValue") if value else None


class MotoServer:
    """A running moto server: its address, and what SES and SNS received since the last reset."""

    def __init__(self, url: str, *, region: str = REGION):
        self.url = url
        self.region = region
        self.http = requests.Session()
        self.http.trust_env = False  # straight to loopback, whatever proxies the environment names
        self._clients: dict[tuple[str, str], object] = {}

    # -- state

    def reset(self) -> None:
        """Forget everything: moto's state (``/moto-api/reset``) and the recorded requests."""
        self._post("/moto-api/reset")
        self.reset_recording()

    def reset_recording(self) -> None:
        self._post("/moto-api/recorder/reset-recording")

    def verify_sender(self, address: str, *, region: str | None = None) -> None:
        """Make ``address`` a verified SES identity (``CreateEmailIdentity``; moto verifies at once).

        Identities belong to one region, in SES as in moto: the test region unless ``region`` is given.
        """
        self.client("sesv2", region=region).create_email_identity(EmailIdentity=address)

    def client(self, service: str, *, region: str | None = None):
        """A boto3 client of this server, independent of the environment (kept: clients are slow to make)."""
        key = (service, region or self.region)
        if key not in self._clients:
            import boto3

            session = boto3.session.Session(aws_access_key_id=ACCESS_KEY_ID,
                                            aws_secret_access_key=SECRET_ACCESS_KEY, region_name=key[1])
            self._clients[key] = session.client(service, endpoint_url=self.url)
        return self._clients[key]

    # -- what was received

    def requests(self, service: str | None = None, action: str | None = None) -> list[ReceivedRequest]:
        """Every request moto received since the last reset, accepted or not, oldest first."""
        response = self.http.get(self.url + "/moto-api/recorder/download-recording", timeout=10)
        response.raise_for_status()
        received = []
        for line in response.text.splitlines():
            if not line.strip():
                continue
            entry = json.loads(line)
            raw = entry.get("body") or ""
            body = base64.b64decode(raw) if entry.get("body_encoded") else raw.encode("utf-8")
            signer, region = _credential_scope(entry.get("headers") or {})
            request = ReceivedRequest(service=signer, region=region, method=entry.get("method", ""),
                                      path=urlsplit(entry.get("url", "")).path, body=body)
            if request.path.startswith("/moto-api/"):
                continue
            if service not in (None, request.service) or action not in (None, request.action):
                continue
            received.append(request)
        return received

    def emails(self, to: str | None = None) -> list[ReceivedEmail]:
        """The e-mails SES accepted, oldest first; ``to`` keeps those addressed to it."""
        pending = self.requests("ses", "SendEmail")
        emails = []
        for stored in self._models("ses", "Message"):
            request = _take(pending, lambda r: _explains_email(r.json(), stored))
            assert request is not None, f"moto stored an e-mail no recorded request explains: {stored!r}"
            sent = request.json()
            simple = sent["Content"]["Simple"]
            body = simple.get("Body", {})
            destination = sent.get("Destination", {})
            emails.append(ReceivedEmail(
                message_id=stored["id"], sender=sent.get("FromEmailAddress", ""),
                to=list(destination.get("ToAddresses", [])), cc=list(destination.get("CcAddresses", [])),
                bcc=list(destination.get("BccAddresses", [])), subject=simple["Subject"]["Data"],
                text=body.get("Text", {}).get("Data"), html=body.get("Html", {}).get("Data"),
                charsets={"subject": simple["Subject"].get("Charset"),
                          "text": body.get("Text", {}).get("Charset"),
                          "html": body.get("Html", {}).get("Charset")},
                region=request.region,
            ))
        return [e for e in emails if to is None or to in e.to + e.cc + e.bcc]

    def sms(self, to: str | None = None) -> list[ReceivedSms]:
        """The SMS SNS accepted (``Publish`` to a phone number), oldest first; ``to`` keeps one number's."""
        pending = [r for r in self.requests("sns", "Publish") if r.form().get("PhoneNumber")]
        messages = []
        for stored in self._models("sns", "SMS"):
            request = _take(pending, lambda r: (r.form().get("PhoneNumber") == stored["phone_number"]
                                                and r.form().get("Message") == stored["message"]))
            assert request is not None, f"moto stored an SMS no recorded request explains: {stored!r}"
            messages.append(ReceivedSms(
                message_id=stored["message_id"], phone_number=stored["phone_number"], message=stored["message"],
                attributes=_message_attributes(request.form()), region=request.region))
        return [m for m in messages if to is None or m.phone_number == to]

    # -- plumbing

    def _models(self, service: str, model: str) -> list[dict]:
        response = self.http.get(self.url + "/moto-api/data.json", timeout=10)
        response.raise_for_status()
        return json.loads(response.text).get(service, {}).get(model, [])

    def _post(self, path: str) -> None:
        self.http.post(self.url + path, timeout=10).raise_for_status()


def _credential_scope(headers: dict) -> tuple[str, str]:
    """(service, region) from ``Authorization: AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/SERVICE/…``."""
    authorization = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
    for part in authorization.replace(",", " ").split():
        if part.startswith("Credential="):
            scope = part.removeprefix("Credential=").split("/")
            if len(scope) >= 5:
                return scope[3], scope[2]
    return "", ""


def _explains_email(sent: dict, stored: dict) -> bool:
    simple = (sent.get("Content") or {}).get("Simple")
    if not simple:
        return False
    body = simple.get("Body", {})
    kept = body.get("Html", body.get("Text", {})).get("Data")  # moto keeps the HTML part if there is one
    return (sent.get("FromEmailAddress") == stored["source"]
            and sent.get("Destination") == stored["destinations"]
            and simple.get("Subject", {}).get("Data") == stored["subject"] and kept == stored["body"])


def _message_attributes(form: dict[str, str]) -> dict[str, dict[str, str]]:
    """``MessageAttributes.entry.N.Name`` / ``.Value.DataType`` / ``.Value.StringValue`` → {name: value}."""
    attributes = {}
    n = 1
    while f"MessageAttributes.entry.{n}.Name" in form:
        prefix = f"MessageAttributes.entry.{n}.Value."
        attributes[form[f"MessageAttributes.entry.{n}.Name"]] = {
            key.removeprefix(prefix): value for key, value in form.items() if key.startswith(prefix)}
        n += 1
    return attributes


def _take(items: list, matches):
    for i, item in enumerate(items):
        if matches(item):
            return items.pop(i)
    return None


# --- the server process and the fixtures --------------------------------------------------------------

class _MotoProcess:
    def __init__(self, workdir: Path):
        self.log_path = workdir / "moto-server.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(MOTO_ENABLE_RECORDING="true", MOTO_RECORDER_FILEPATH=str(workdir / "moto-recording.jsonl"))
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen([sys.executable, "-c", _LAUNCHER], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=self._log, cwd=str(workdir), env=env)
        try:
            ready, _, _ = select.select([self.process.stdout], [], [], _START_TIMEOUT)
            line = self.process.stdout.readline().decode().strip() if ready else ""
            if not line.isdigit():
                raise RuntimeError(f"moto server did not start; its log:\n{self._log_tail()}")
        except BaseException:
            self.stop()
            raise
        self.url = f"http://127.0.0.1:{int(line)}"

    def _log_tail(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()  # the launcher returns when its stdin closes
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        for stream in (self.process.stdin, self.process.stdout):
            if stream and not stream.closed:
                stream.close()
        self._log.close()


@pytest.fixture(scope="session")
def moto_process(tmp_path_factory):
    """The moto server process of this test session (use ``moto_server`` in tests)."""
    process = _MotoProcess(tmp_path_factory.mktemp("moto"))
    yield process
    process.stop()


@pytest.fixture(scope="session")
def _moto_handle(moto_process) -> MotoServer:
    return MotoServer(moto_process.url)


@pytest.fixture
def moto_server(_moto_handle, monkeypatch, tmp_path) -> MotoServer:
    """A clean moto, boto3's standard variables pointing at it, the default sender verified in SES."""
    server = _moto_handle
    server.reset()
    use_aws_endpoint(monkeypatch, server.url, scratch=tmp_path)
    server.verify_sender(DEFAULT_SENDER)
    server.reset_recording()  # requests() shows what the test sent, not the set-up
    return server


@pytest.fixture
def aws_unreachable(monkeypatch, tmp_path) -> str:
    """boto3's standard variables pointing at a closed loopback port; returns its URL."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    use_aws_endpoint(monkeypatch, url, scratch=tmp_path)
    return url
