"""The audit trail of security events (``idp audit``, the admin area)."""
from idp.audit.events import EVENTS, Origin, describe, event_values, publish, record
from idp.audit.models import AuditEvent
from idp.audit.query import search

__all__ = ["EVENTS", "AuditEvent", "Origin", "describe", "event_values", "publish", "record", "search"]
