"""Claiming rows for one worker among several: the outbox dispatcher's due messages and the pending
«Забыли пароль?» requests (:mod:`idp.passwords.reset`) are claimed the same way.

A claim is one ``UPDATE … WHERE id IN (candidates) AND <still claimable> … RETURNING``, committed at once.
On PostgreSQL the candidates are locked ``FOR UPDATE SKIP LOCKED``: rows another worker is claiming at
that moment are passed over rather than waited for, so k workers take k different batches. They are
picked in a materialised CTE, so the candidates' LIMIT holds however the UPDATE is planned (a subquery
the planner runs again would lock, and claim, a further batch). SQLite, one writer at a time, has no row
locks and renders no ``FOR UPDATE``; the UPDATE repeating the claimable conditions makes it conditional
there. That statement is the only place the dialects differ.
"""
from __future__ import annotations

from sqlalchemy import Select, select


def locked_candidates(candidates: Select, name: str) -> Select:
    """``SELECT id FROM <candidates>``, picked once and locked SKIP LOCKED, for ``Model.id.in_(…)``.
    ``candidates`` selects one column, the id."""
    picked = candidates.with_for_update(skip_locked=True).cte(name).prefix_with("MATERIALIZED")
    return select(*picked.c)
