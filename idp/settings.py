"""Typed settings, read once from ``IDP_*`` environment variables and validated at start-up.

Every default lives here, with a comment saying why; the README's settings table mirrors this file.
"""
from __future__ import annotations

import dataclasses
import functools
import logging
import os
import re
import secrets
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from idp.secret_keys import SecretKeys

log = logging.getLogger(__name__)

#: The repository root of a checkout (editable install): default home of ``instance/``, ``keys/`` and ``templates/``.
PROJECT_ROOT = Path(__file__).resolve().parent.parent

#: The theme a built wheel carries inside the package (setup.py copies the top-level ``templates/`` there);
#: a checkout has none.
_PACKAGED_TEMPLATES = Path(str(resources.files("idp") / "templates"))


def default_templates_dir() -> Path:
    """The theme the code came with: the package's own copy when installed from the wheel, else the checkout's
    top-level ``templates/`` (so editing a template in a checkout shows at once)."""
    return _PACKAGED_TEMPLATES if _PACKAGED_TEMPLATES.is_dir() else PROJECT_ROOT / "templates"


def default_home() -> Path:
    """Default home of ``instance/`` and ``keys/``: the repository root in a checkout; installed from the wheel,
    ``var/idp`` in the Python environment (``sys.prefix``: the virtualenv), never inside site-packages."""
    return Path(sys.prefix) / "var" / "idp" if _PACKAGED_TEMPLATES.is_dir() else PROJECT_ROOT


#: Secret keys this process made up because none was set (development): they die with the process.
_EPHEMERAL_KEYS: set[str] = set()


def has_ephemeral_secret_key(settings: "Settings") -> bool:
    """Whether ``settings`` carry a random per-process key (IDP_SECRET_KEY unset in development)."""
    return settings.secret_key in _EPHEMERAL_KEYS


#: The password pepper of development when IDP_PASSWORD_PEPPER is unset: fixed and published (here and in the
#: README), so the demo's SQLite passwords survive a restart; production refuses it.
DEVELOPMENT_PASSWORD_PEPPER = "idp-development-password-pepper-not-a-secret"


class SettingsError(RuntimeError):
    """A setting is missing or invalid; the message names the variable."""


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    #: ``development`` (the default: demo-friendly) or ``production`` (secrets required, cookies Secure).
    env: str = "development"
    #: Signs and seals everything new: the session cookie, CSRF tokens, the re-authentication marker,
    #: client-secret hashes, queued messages. Required in production (never in a repr or log).
    secret_key: str = dataclasses.field(default="", repr=False)
    #: Earlier secret keys, comma-separated, still accepted to verify and open what they signed or sealed
    #: while a rotation is under way (README, "Rotating the secret key"); never used for anything new, never
    #: logged.
    previous_secret_keys: str = dataclasses.field(default="", repr=False)
    #: SQLAlchemy URL. SQLite is the embedded default; PostgreSQL (``postgresql+psycopg://``) for production.
    database_url: str = ""
    #: A connection pooler between the provider and PostgreSQL: ``pgbouncer`` (transaction pooling, where a
    #: server connection serves another client after every transaction) makes the provider send no named
    #: prepared statements and keep no session state. Unset: connections straight to PostgreSQL.
    database_pooler: str = ""
    #: The issuer identifier and public base URL of the hosted pages (links in messages point here).
    issuer: str = "http://127.0.0.1:5000"
    #: bcrypt work factor for customer passwords and temporary passwords.
    bcrypt_rounds: int = 12
    #: Keys the pre-hash of every password (HMAC-SHA-256) so no hash leaked elsewhere fits ours. Secret, the
    #: same on every instance, independent of ``secret_key``; required in production (never in a repr or log).
    password_pepper: str = dataclasses.field(default="", repr=False)
    #: How long a temporary password stays valid, in seconds (the seed's customer may read it next day).
    temp_password_ttl: int = 24 * 3600
    #: Transport for e-mail: ``mailbox`` (development file) or ``ses``.
    email_transport: str = "mailbox"
    #: Transport for SMS: ``mailbox`` (development file) or ``sns``.
    sms_transport: str = "mailbox"
    #: ``inline``: the request that queues a message also tries to send it at once (demo, one instance);
    #: ``worker``: only ``idp deliveries run`` sends (production: equal response times, no waiting on SES).
    delivery_mode: str = "inline"
    #: Attempts before a message is marked dead (visible to admins, re-queueable).
    delivery_max_attempts: int = 6
    #: Seconds before the first retry; doubles after every failed attempt (capped at an hour).
    delivery_backoff: int = 30
    #: The SMS budget (SMS pumping costs money on SNS): SMS in all per clock hour, and to one phone per day;
    #: beyond it SMS wait in the outbox (:mod:`idp.delivery.budget`).
    sms_per_hour: int = 1000
    sms_per_phone_per_day: int = 10
    #: The development mailbox: one JSON object per line per message.
    mailbox_path: str = ""
    #: Sender of e-mails (the seed's address).
    email_from: str = "eservices@metlife.ru"
    #: The link in SMS texts (default: the issuer). A short one (``lk.metlife.ru``) leaves room for the
    #: seed's words; the app refuses to start if any SMS would then need more than two segments.
    sms_link: str = ""
    #: Alphanumeric SMS sender id shown on the customer's phone (the seed shows "MetLife").
    sms_sender_id: str = "MetLife"
    #: Where signing keys live (never in git).
    keys_dir: str = ""
    #: Folder of the theme: hosted pages, message texts and translations; operators may point it elsewhere.
    templates_dir: str = ""
    #: Instance folder for the SQLite database and the mailbox.
    instance_dir: str = ""
    #: Sign-in session lifetime in seconds (absolute, from sign-in).
    session_lifetime: int = 12 * 3600
    #: A sign-in session unused for this many seconds is over.
    session_idle_timeout: int = 30 * 60
    #: OAuth/OIDC lifetimes in seconds. Codes are single-use and short-lived (RFC 6749 §4.1.2 says ≤ 10 min).
    authorization_code_ttl: int = 60
    #: Opaque bearer access tokens (revocable, so they may live a little longer than a JWT would).
    access_token_ttl: int = 900
    #: ID tokens; a retired signing key stays published at least this long (plus a margin) after rotation.
    id_token_ttl: int = 3600
    #: Each refresh token, from its issue; rotation issues a new one (OAuth 2.0 Security BCP §4.14).
    refresh_token_ttl: int = 30 * 24 * 3600
    #: How often an instance looks for keys added to the shared keys directory by another instance.
    keys_reload_interval: int = 30
    #: Sign-in throttling of one login at one client address: from this failure on, a wait that starts at
    #: ``signin_base_wait`` seconds and doubles up to ``signin_max_wait`` (never a permanent lock-out).
    signin_threshold: int = 5
    signin_base_wait: int = 30
    signin_max_wait: int = 900
    #: The same waits for one login from all addresses together, from this failure on: a ceiling well above
    #: what one address can reach (about a dozen failures an hour), so strangers elsewhere cannot hold the
    #: customer at their own address; whoever meets it is told to call the contact centre.
    signin_login_ceiling: int = 100
    #: Failed sign-ins of one client address across logins before its waits start (successes never count:
    #: many customers may share one address).
    ip_threshold: int = 20
    #: Admission control of password checks (:mod:`idp.passwords.admission`), per worker: checks running at
    #: once for sign-ins from browsers not known for their login, how many more may wait, for how long
    #: (seconds), and the ``Retry-After`` (seconds) of one refused because the queue was full. gunicorn's
    #: threads per worker (``gunicorn.conf.py``) default to every lane's slots and queue plus 16, so waiting
    #: never takes them all.
    signin_check_slots: int = 1
    #: Protocol API requests (token, UserInfo, introspection, revocation…) a worker handles at once; the others
    #: wait their turn. Bounds each worker's database connections (and memory) whatever its threads.
    protocol_concurrency: int = 4
    signin_queue_length: int = 48
    signin_queue_wait: int = 3
    signin_retry_after: int = 3
    #: «Забыли пароль?» requests allowed per login from one address, per minute and per hour.
    reset_per_minute: int = 1
    reset_per_hour: int = 5
    #: «Забыли пароль?» requests allowed per login from all addresses together, per hour (per minute: ten
    #: times ``reset_per_minute``); past it the customer is told to call the contact centre.
    reset_login_ceiling: int = 40
    #: Redis for the throttle counters (``redis://host:6379/0``); unset: they live in the database.
    redis_url: str = ""
    #: How many reverse proxies in front of the provider set X-Forwarded-For/-Proto (0: none).
    trusted_proxies: int = 0
    #: ``text`` (readable) or ``json`` (one object per line with the request id, for log shippers).
    log_format: str = "text"
    #: ``host:port`` of the Prometheus listener, apart from the public one (whose ``/metrics`` is a 404: some
    #: counters move only for real accounts); unset: metrics are not served over HTTP.
    metrics_bind: str = ""
    #: Delivery receipts: the SNS topics (ARNs, comma-separated) whose notifications ``/api/delivery/sns``
    #: accepts; the signing certificate is fetched only from ``sns.<the topic's region>.amazonaws.com``.
    #: Unset: the endpoint answers 404 and no receipt is recorded.
    sns_topic_arns: str = ""
    #: Tests only: a PEM certificate trusted instead of SNS's own to verify notifications. Production refuses it.
    sns_test_certificate: str = ""

    @functools.cached_property
    def secret_keys(self) -> SecretKeys:
        """``IDP_SECRET_KEY`` and the keys of ``IDP_PREVIOUS_SECRET_KEYS``, as everything that signs or seals
        takes them (:mod:`idp.secret_keys`)."""
        return SecretKeys(self.secret_key, self.previous_keys)

    @property
    def previous_keys(self) -> tuple[str, ...]:
        """The keys of ``IDP_PREVIOUS_SECRET_KEYS``, in order (spaces around the commas ignored)."""
        return tuple(key.strip() for key in self.previous_secret_keys.split(",") if key.strip())

    @property
    def receipt_topics(self) -> tuple[str, ...]:
        """The SNS topic ARNs of ``IDP_SNS_TOPIC_ARNS``."""
        return tuple(arn.strip() for arn in self.sns_topic_arns.split(",") if arn.strip())

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def metrics_address(self) -> tuple[str, int] | None:
        """``IDP_METRICS_BIND`` as (host, port) — ``[::1]:9464`` as ``("::1", 9464)`` —; None when unset."""
        if not self.metrics_bind:
            return None
        host, _, port = self.metrics_bind.rpartition(":")
        return host.removeprefix("[").removesuffix("]"), int(port)

    def limits(self):
        """The throttling limits these settings describe."""
        from datetime import timedelta

        from idp.throttling import Limits, WaitPolicy

        base, cap = timedelta(seconds=self.signin_base_wait), timedelta(seconds=self.signin_max_wait)
        return Limits(
            pair=WaitPolicy(threshold=self.signin_threshold, base=base, cap=cap),
            login=WaitPolicy(threshold=self.signin_login_ceiling, base=base, cap=cap),
            ip=WaitPolicy(threshold=self.ip_threshold, base=base, cap=cap, forget_after=timedelta(hours=1)),
            reset_per_pair=((self.reset_per_minute, 60), (self.reset_per_hour, 3600)),
            reset_per_login=((self.reset_per_minute * 10, 60), (self.reset_login_ceiling, 3600)),
            reset_per_ip=((max(10, self.reset_per_minute * 10), 60), (max(50, self.reset_per_hour * 10), 3600)),
        )

    def admission(self):
        """The admission policy of password checks these settings describe."""
        from idp.passwords.admission import AdmissionPolicy, LanePolicy

        return AdmissionPolicy(normal=LanePolicy(slots=self.signin_check_slots, queue=self.signin_queue_length,
                                                 wait=float(self.signin_queue_wait)),
                               retry_after=self.signin_retry_after)

    def replace(self, **changes) -> "Settings":
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_env(cls, environ: dict | None = None, **overrides) -> "Settings":
        """Build settings from ``IDP_*`` variables, then apply ``overrides`` (tests), then validate."""
        env = os.environ if environ is None else environ
        values: dict = {}
        for f in dataclasses.fields(cls):
            raw = env.get("IDP_" + f.name.upper())
            if raw is None or raw == "":
                continue
            if f.type in ("int", int):
                try:
                    values[f.name] = int(raw)
                except ValueError as exc:
                    raise SettingsError(f"IDP_{f.name.upper()} must be a whole number, got {raw!r}") from exc
            elif f.type in ("bool", bool):
                values[f.name] = _bool(raw)
            else:
                values[f.name] = raw
        values.update(overrides)
        return cls(**values).validated()

    def validated(self) -> "Settings":
        """Fill derived defaults and refuse what cannot work; raises :class:`SettingsError`."""
        s = self
        if s.env not in {"development", "production"}:
            raise SettingsError(f"IDP_ENV must be 'development' or 'production', got {s.env!r}")
        instance_dir = s.instance_dir or str(default_home() / "instance")
        s = s.replace(
            instance_dir=instance_dir,
            database_url=s.database_url or f"sqlite:///{Path(instance_dir) / 'idp.sqlite3'}",
            mailbox_path=s.mailbox_path or str(Path(instance_dir) / "mailbox.jsonl"),
            keys_dir=s.keys_dir or str(default_home() / "keys"),
            templates_dir=s.templates_dir or str(default_templates_dir()),
            issuer=s.issuer.rstrip("/"),
        )
        s = s.replace(sms_link=s.sms_link.strip() or s.issuer)
        if not s.secret_key:
            if s.production:
                raise SettingsError(
                    "IDP_SECRET_KEY is not set: production mode refuses to start without it "
                    "(use a random value of at least 32 bytes, shared by all instances)")
            # Development only: a per-process random key, so no guessable default exists anywhere.
            log.warning("IDP_SECRET_KEY is not set; using a random key for this process (development only)")
            s = s.replace(secret_key=secrets.token_urlsafe(32))
            _EPHEMERAL_KEYS.add(s.secret_key)
        elif s.production and len(s.secret_key) < 32:
            raise SettingsError("IDP_SECRET_KEY is too short: use at least 32 random characters")
        if not s.password_pepper:
            if s.production:
                raise SettingsError(
                    "IDP_PASSWORD_PEPPER is not set: production mode refuses to start without it (use a random "
                    "value of at least 32 characters, shared by all instances, other than IDP_SECRET_KEY)")
            log.warning("IDP_PASSWORD_PEPPER is not set; using the published development pepper (development only)")
            s = s.replace(password_pepper=DEVELOPMENT_PASSWORD_PEPPER)
        elif s.production and len(s.password_pepper) < 32:
            raise SettingsError("IDP_PASSWORD_PEPPER is too short: use at least 32 random characters")
        elif s.production and s.password_pepper == DEVELOPMENT_PASSWORD_PEPPER:
            raise SettingsError("IDP_PASSWORD_PEPPER is the published development pepper: use a random value")
        elif s.production and s.password_pepper == s.secret_key:
            raise SettingsError("IDP_PASSWORD_PEPPER must differ from IDP_SECRET_KEY (that key is rotated on its own)")
        for key in s.previous_keys:  # (never the key itself in a message)
            if s.production and len(key) < 32:
                raise SettingsError("IDP_PREVIOUS_SECRET_KEYS: a key is shorter than 32 characters")
            if key == s.secret_key:
                raise SettingsError("IDP_PREVIOUS_SECRET_KEYS repeats IDP_SECRET_KEY: list only the other "
                                    "keys")
            if s.production and key == s.password_pepper:
                raise SettingsError("IDP_PREVIOUS_SECRET_KEYS: a key equals IDP_PASSWORD_PEPPER")
        if len(set(s.previous_keys)) != len(s.previous_keys):
            raise SettingsError("IDP_PREVIOUS_SECRET_KEYS lists a key twice")
        if s.production and not s.issuer.startswith("https://"):
            raise SettingsError("IDP_ISSUER must be an https:// URL in production")
        if s.database_pooler not in {"", "pgbouncer"}:
            raise SettingsError(f"IDP_DATABASE_POOLER must be 'pgbouncer' or unset, got {s.database_pooler!r}")
        if s.database_pooler and not s.database_url.startswith("postgresql"):
            raise SettingsError("IDP_DATABASE_POOLER=pgbouncer needs a PostgreSQL IDP_DATABASE_URL "
                                "(postgresql+psycopg://user@pgbouncer-host:6432/db); unset it for SQLite")
        if s.email_transport not in {"mailbox", "ses"}:
            raise SettingsError(f"IDP_EMAIL_TRANSPORT must be 'mailbox' or 'ses', got {s.email_transport!r}")
        if s.sms_transport not in {"mailbox", "sns"}:
            raise SettingsError(f"IDP_SMS_TRANSPORT must be 'mailbox' or 'sns', got {s.sms_transport!r}")
        if s.log_format not in {"text", "json"}:
            raise SettingsError(f"IDP_LOG_FORMAT must be 'text' or 'json', got {s.log_format!r}")
        if s.delivery_mode not in {"inline", "worker"}:
            raise SettingsError(f"IDP_DELIVERY_MODE must be 'inline' or 'worker', got {s.delivery_mode!r}")
        if s.production and s.delivery_mode == "inline" and (s.email_transport, s.sms_transport) != ("mailbox", "mailbox"):
            # A request that waits on SES/SNS only when the login exists answers more slowly for known logins.
            raise SettingsError("IDP_DELIVERY_MODE=inline with SES/SNS would let response times reveal which "
                                "logins exist: in production set IDP_DELIVERY_MODE=worker and run `idp deliveries run`")
        for variable, transport in (("IDP_EMAIL_TRANSPORT", s.email_transport), ("IDP_SMS_TRANSPORT", s.sms_transport)):
            if s.production and transport == "mailbox":
                # The development mailbox keeps every message, temporary passwords included, in a local file.
                raise SettingsError(f"{variable}=mailbox writes temporary passwords to a local file and reaches "
                                    "no customer: in production set IDP_EMAIL_TRANSPORT=ses and IDP_SMS_TRANSPORT=sns")
        if s.delivery_max_attempts < 1 or s.delivery_backoff < 0:
            raise SettingsError("IDP_DELIVERY_MAX_ATTEMPTS must be ≥ 1 and IDP_DELIVERY_BACKOFF ≥ 0")
        if s.sms_per_hour < 1 or s.sms_per_phone_per_day < 1:
            raise SettingsError("IDP_SMS_PER_HOUR and IDP_SMS_PER_PHONE_PER_DAY must be ≥ 1")
        if min(s.signin_threshold, s.ip_threshold, s.reset_per_minute, s.reset_per_hour) < 1 \
                or not 0 < s.signin_base_wait <= s.signin_max_wait or s.trusted_proxies < 0:
            raise SettingsError("throttling settings must be positive, with IDP_SIGNIN_BASE_WAIT ≤ IDP_SIGNIN_MAX_WAIT")
        # A login's ceiling below its one-address limit would let strangers use up the customer's own attempts.
        if s.protocol_concurrency < 1:
            raise SettingsError("IDP_PROTOCOL_CONCURRENCY must be at least 1")
        if s.signin_check_slots < 1 or s.signin_queue_length < 0 or s.signin_queue_wait < 0 \
                or s.signin_retry_after < 1:
            raise SettingsError("IDP_SIGNIN_CHECK_SLOTS and IDP_SIGNIN_RETRY_AFTER must be at least 1, "
                                "IDP_SIGNIN_QUEUE_LENGTH and IDP_SIGNIN_QUEUE_WAIT at least 0")
        if s.signin_login_ceiling < s.signin_threshold:
            raise SettingsError("IDP_SIGNIN_LOGIN_CEILING must be ≥ IDP_SIGNIN_THRESHOLD")
        if s.reset_login_ceiling < s.reset_per_hour:
            raise SettingsError("IDP_RESET_LOGIN_CEILING must be ≥ IDP_RESET_PER_HOUR")
        if not 4 <= s.bcrypt_rounds <= 31:
            raise SettingsError("IDP_BCRYPT_ROUNDS must be between 4 and 31")
        if s.production and s.bcrypt_rounds < 10:
            raise SettingsError("IDP_BCRYPT_ROUNDS below 10 is too weak for production")
        if s.session_lifetime <= 0 or s.session_idle_timeout <= 0:
            raise SettingsError("IDP_SESSION_LIFETIME and IDP_SESSION_IDLE_TIMEOUT must be positive")
        if s.temp_password_ttl <= 0:
            raise SettingsError("IDP_TEMP_PASSWORD_TTL must be a positive number of seconds")
        for name in ("authorization_code_ttl", "access_token_ttl", "id_token_ttl", "refresh_token_ttl",
                     "keys_reload_interval"):
            if getattr(s, name) <= 0:
                raise SettingsError(f"IDP_{name.upper()} must be a positive number of seconds")
        for arn in s.receipt_topics:
            if not re.fullmatch(r"arn:aws(-[a-z]+)*:sns:[a-z]{2}(-[a-z]+)+-\d:\d{12}:[A-Za-z0-9_-]{1,256}", arn):
                raise SettingsError(f"IDP_SNS_TOPIC_ARNS: {arn!r} is not an SNS topic ARN "
                                    "(arn:aws:sns:REGION:ACCOUNT:NAME)")
        if s.sns_test_certificate and s.production:
            # A certificate of our own choosing would let anyone holding its key forge receipts.
            raise SettingsError("IDP_SNS_TEST_CERTIFICATE is for tests only: production verifies SNS "
                                "notifications with SNS's own certificate; unset it")
        host, colon, port = s.metrics_bind.rpartition(":")
        if s.metrics_bind and not (colon and host.strip("[]") and port.isdigit() and 0 < int(port) < 65536):
            raise SettingsError(f"IDP_METRICS_BIND must be host:port (e.g. 127.0.0.1:9464), got {s.metrics_bind!r}")
        return s
