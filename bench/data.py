"""Benchmark data, made through the provider's own Python API in the benchmark process.

The servers under test are separate gunicorn processes; this module opens the same database with an app
built from the same ``IDP_*`` settings and writes what the load needs:

* the schema by the migrations (what ``idp init`` runs) and the first signing key;
* one confidential client (``client_secret_basic``; grant types ``authorization_code``, ``refresh_token``,
  ``client_credentials``; a machine scope ``bench.api``) through :func:`idp.clients.create_client`;
* accounts ``user<N>@bench.example.com`` with one permanent password, hashed once with the provider's
  hasher at the configured bcrypt cost and shared by every row (bulk insert: executemany on SQLite,
  COPY on PostgreSQL — only the scale check needs many);
* authorization codes and token rows exactly as :mod:`idp.oidc.hooks` stores them (SHA-256 of a random
  value, a sign-in time, a family), so the endpoints see what the real flow would have left. Codes live
  ``IDP_AUTHORIZATION_CODE_TTL`` seconds and refresh tokens are single use (rotation): both are minted
  right before each measured run, as many as the run can spend.
"""
from __future__ import annotations

import base64
import hashlib
import random
import secrets
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, insert, select  # noqa: E402

from idp.accounts import Account  # noqa: E402
from idp.app import create_app  # noqa: E402
from idp.clients import STANDARD_SCOPES, create_client  # noqa: E402
from idp.extensions import db  # noqa: E402
from idp.keys import ensure_first_key  # noqa: E402
from idp.oidc.models import AuthorizationCode, OAuthToken, token_hash  # noqa: E402
from idp.oidc.tokens import new_family, new_value  # noqa: E402
from idp.schema import upgrade  # noqa: E402
from idp.settings import Settings  # noqa: E402

CLIENT_ID = "bench-rp"
REDIRECT_URI = "https://rp.bench.example.com/callback"
MACHINE_SCOPE = "bench.api"
#: What a relying party asks for: ID token, claims, and a refresh token.
USER_SCOPE = "openid profile email offline_access"
PASSWORD = "Bench-Passw0rd"
#: Every minted code carries the S256 challenge of this verifier (PKCE is required of every client, issue 22),
#: and every exchange sends it: the benchmark measures the check the provider really makes.
CODE_VERIFIER = "bench-code-verifier-" + "v" * 43
CODE_CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(CODE_VERIFIER.encode("ascii")).digest()).decode().rstrip("=")


def login_of(number: int) -> str:
    return f"user{number:07d}@bench.example.com"


class Store:
    """The database of one benchmark run, seen through the provider's models."""

    def __init__(self, env: dict):
        self.settings = Settings.from_env(environ=env)
        self.app = create_app(self.settings)
        self.client_pk: int | None = None
        self.accounts = 0
        self._ids: list[int] = []
        self._password_hash: str | None = None

    def copy(self, env: dict) -> "Store":
        """This store's state over a copy of its database (``env`` names the copy)."""
        other = Store(env)
        other.client_pk, other.accounts = self.client_pk, self.accounts
        other._ids, other._password_hash = list(self._ids), self._password_hash
        return other

    def now(self):
        return self.app.extensions["idp"].clock.now()

    def init(self) -> None:
        """Schema by the migrations (``idp init``) and the first signing key."""
        with self.app.app_context():
            upgrade()
            ensure_first_key(self.settings.keys_dir, now=self.now())

    def create_client(self) -> tuple[str, str]:
        with self.app.app_context():
            created = create_client(self.settings, name="Benchmark RP", client_id=CLIENT_ID,
                                    redirect_uris=[REDIRECT_URI], scopes=[*STANDARD_SCOPES, MACHINE_SCOPE],
                                    grant_types=["authorization_code", "refresh_token", "client_credentials"],
                                    first_party=True, now=self.now())
            db.session.commit()
            self.client_pk = created.client.id
            return created.client.client_id, created.secret

    def add_accounts(self, upto: int, *, batch: int = 50_000, progress=None) -> None:
        """Grow the account table to ``upto`` rows (numbers ``accounts .. upto-1``)."""
        if self._password_hash is None:
            self._password_hash = self.app.extensions["idp"].hasher.hash(PASSWORD)
        with self.app.app_context():
            now = self.now()
            postgres = db.engine.dialect.name == "postgresql"
            start = self.accounts
            while start < upto:
                stop = min(upto, start + batch)
                rows = [(secrets.token_hex(16), login_of(n), None, True, False, None, self._password_hash, now,
                         False, None, now) for n in range(start, stop)]
                if postgres:
                    self._copy_accounts(rows)
                else:
                    keys = ("subject", "email", "phone", "email_verified", "phone_verified", "full_name",
                            "password_hash", "password_changed_at", "is_admin", "disabled_at", "created_at")
                    db.session.execute(insert(Account.__table__), [dict(zip(keys, row)) for row in rows])
                    db.session.commit()
                start = stop
                if progress:
                    progress(stop)
            self.accounts = upto
            low, high = db.session.execute(select(func.min(Account.id), func.max(Account.id))).one()
            self._ids = [low, high]
            db.session.remove()

    @staticmethod
    def _copy_accounts(rows) -> None:
        raw = db.engine.raw_connection()
        try:
            connection = raw.driver_connection
            with connection.cursor() as cursor:
                with cursor.copy("COPY accounts (subject, email, phone, email_verified, phone_verified, full_name, "
                                 "password_hash, password_changed_at, is_admin, disabled_at, created_at) "
                                 "FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            connection.commit()
        finally:
            raw.close()

    def vacuum_analyze(self) -> None:
        """Fresh planner statistics after a bulk load (what an operator runs after a big import)."""
        with self.app.app_context():
            if db.engine.dialect.name == "postgresql":
                raw = db.engine.raw_connection()
                try:
                    raw.driver_connection.autocommit = True
                    raw.driver_connection.execute("VACUUM ANALYZE")
                finally:
                    raw.close()
            else:
                with db.engine.connect() as connection:
                    connection.exec_driver_sql("ANALYZE")
                    connection.commit()
                    # Fold the bulk load's write-ahead log into the database file now, rather than in the
                    # first measured requests (SQLite checkpoints on commit once the log is long).
                    connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    def sample_logins(self, count: int, rng: random.Random) -> list[str]:
        return [login_of(rng.randrange(self.accounts)) for _ in range(count)]

    def _random_account_ids(self, count: int, rng: random.Random) -> list[int]:
        low, high = self._ids
        return [rng.randint(low, high) for _ in range(count)]

    def mint_codes(self, count: int, rng: random.Random) -> list[str]:
        """Fresh authorization codes, as :meth:`ProviderHooks.save_authorization_code` stores them."""
        values = [new_value() for _ in range(count)]
        with self.app.app_context():
            now = self.now()
            expires = now + timedelta(seconds=self.settings.authorization_code_ttl)
            rows = [dict(code_hash=token_hash(v), client_pk=self.client_pk, account_id=a, redirect_uri=REDIRECT_URI,
                         scope=USER_SCOPE, nonce=None, code_challenge=CODE_CHALLENGE, code_challenge_method="S256",
                         auth_time=now, amr="pwd", created_at=now, expires_at=expires)
                    for v, a in zip(values, self._random_account_ids(count, rng))]
            for i in range(0, len(rows), 20_000):
                db.session.execute(insert(AuthorizationCode.__table__), rows[i:i + 20_000])
            db.session.commit()
            db.session.remove()
        return values

    def mint_tokens(self, count: int, rng: random.Random) -> list[tuple[str, str]]:
        """(access token, refresh token) pairs of a code exchange, as :meth:`ProviderHooks.save_token` stores
        them: each its own family, live for the configured lifetimes."""
        pairs = [(new_value(), new_value()) for _ in range(count)]
        with self.app.app_context():
            s, now = self.settings, self.now()
            rows = [dict(access_token_hash=token_hash(a), refresh_token_hash=token_hash(r), client_pk=self.client_pk,
                         account_id=acct, scope=USER_SCOPE, grant_type="authorization_code", family_id=new_family(),
                         code_id=None, issued_at=now, access_expires_at=now + timedelta(seconds=s.access_token_ttl),
                         refresh_expires_at=now + timedelta(seconds=s.refresh_token_ttl), access_revoked_at=None,
                         revoked_at=None, refresh_used_at=None, auth_time=now, amr="pwd")
                    for (a, r), acct in zip(pairs, self._random_account_ids(count, rng))]
            for i in range(0, len(rows), 20_000):
                db.session.execute(insert(OAuthToken.__table__), rows[i:i + 20_000])
            db.session.commit()
            db.session.remove()
        return pairs

    def table_counts(self) -> dict:
        with self.app.app_context():
            out = {name: db.session.execute(select(func.count()).select_from(model)).scalar()
                   for name, model in (("accounts", Account), ("oauth_tokens", OAuthToken),
                                       ("oauth_codes", AuthorizationCode))}
            db.session.remove()
            return out

    def dispose(self) -> None:
        with self.app.app_context():
            db.session.remove()
            db.engine.dispose()
