"""Every table of the provider, imported in one place so the schema (and Alembic) sees them all."""
from idp.extensions import db

import idp.accounts.models  # noqa: E402,F401
import idp.audit.models  # noqa: E402,F401
import idp.clients.models  # noqa: E402,F401
import idp.delivery.models  # noqa: E402,F401
import idp.oidc.models  # noqa: E402,F401
import idp.passwords.models  # noqa: E402,F401
import idp.policies.models  # noqa: E402,F401
import idp.sessions.models  # noqa: E402,F401
import idp.throttling.models  # noqa: E402,F401

metadata = db.metadata
