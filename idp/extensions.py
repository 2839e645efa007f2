"""Flask extensions, created unbound and attached in :func:`idp.app.create_app`."""
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import text
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


def not_null(column: str) -> dict:
    """An ``Index``'s options making it partial, on SQLite and PostgreSQL alike: rows whose ``column`` is NULL
    are left out. A query of ``column = value`` implies ``column IS NOT NULL``, so both still use it."""
    condition = text(f"{column} IS NOT NULL")
    return {"sqlite_where": condition, "postgresql_where": condition}


db = SQLAlchemy(model_class=Base)
csrf = CSRFProtect()
