"""Pages of a long list (held policies, refusals, failed messages) for the admin web area and API.

A page is asked for by number (``?page=2``, from 1) and, in the API, size (``?per_page=50``). Whatever
arrives in the query string is checked here, so a page number that is not one is a clear 400
(``query.page``) and never reaches the database.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import Select, func, select

from idp.errors import BadRequest
from idp.extensions import db

T = TypeVar("T")

PER_PAGE = 50
MAX_PER_PAGE = 200
#: No list is that long; a larger number is a typing error (and would overflow an OFFSET).
MAX_PAGE = 100_000


class InvalidQuery(BadRequest):
    """A query-string parameter that is not what the list takes."""

    error = "invalid_request"
    code = "query.invalid"


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    number: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def previous(self) -> int | None:
        return self.number - 1 if self.number > 1 else None

    @property
    def next(self) -> int | None:
        return self.number + 1 if self.number < self.pages else None

    def as_dict(self) -> dict:
        return {"page": self.number, "per_page": self.per_page, "total": self.total, "pages": self.pages,
                "next_page": self.next}


def number_of(raw: str | None, *, name: str = "page", default: int = 1, maximum: int = MAX_PAGE) -> int:
    """A positive whole number from the query string; absent or empty gives ``default``."""
    text = (raw or "").strip()
    if not text:
        return default
    if not (text.isascii() and text.isdigit()) or len(text) > 9 or not 1 <= int(text) <= maximum:
        raise InvalidQuery(f"{name} must be a whole number from 1 to {maximum}", code=f"query.{name}")
    return int(text)


def choice_of(raw: str | None, allowed, *, name: str, default: str | None = None) -> str | None:
    """One of ``allowed`` from the query string; absent or empty gives ``default``."""
    text = (raw or "").strip()
    if not text:
        return default
    if text not in allowed:
        raise InvalidQuery(f"{name} must be one of {', '.join(allowed)}", code=f"query.{name}")
    return text


def paginate(query: Select, number: int, per_page: int = PER_PAGE) -> Page:
    """Page ``number`` of ``query`` (which orders its rows) and the total count of its rows."""
    total = db.session.execute(select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()
    items = list(db.session.execute(query.limit(per_page).offset((number - 1) * per_page)).scalars())
    return Page(items=items, number=number, per_page=per_page, total=total)
