"""What start-up makes sure of before the provider serves a request or an ``idp`` command runs, and how the
database engine is set up for the settings.

* The database driver of ``IDP_DATABASE_URL`` is installed, and the database server (PostgreSQL) answers.
* ``IDP_KEYS_DIR`` is a folder this process can read — and write, when it has to make the first signing key
  itself (development, no key yet).

Each failure is a :class:`StartupError` (a :class:`~idp.settings.SettingsError`): one line naming the setting
and the fix, which the ``idp`` command and the WSGI entry print instead of a traceback, exiting 2.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from idp.settings import Settings, SettingsError

#: Install hint for the production database's driver (the package's ``postgres`` extra: psycopg 3).
POSTGRES_DRIVER = "postgresql+psycopg:// with psycopg installed (pip install 'idp[postgres]')"


class StartupError(SettingsError):
    """The provider cannot start as configured (a driver, the database, the keys directory); the message
    names the setting and the fix."""


# -- the database -------------------------------------------------------------------------------------------


def engine_options(settings: Settings) -> dict:
    """SQLAlchemy ``create_engine`` options for ``settings`` (as ``SQLALCHEMY_ENGINE_OPTIONS``).

    Behind PgBouncer in transaction pooling mode a server connection goes to another client after every
    transaction, and PgBouncer (before 1.21) does not carry prepared statements along: psycopg must not
    prepare statements of its own (``prepare_threshold=None``; by default it prepares a query, under a name,
    from its fifth run on a connection). The protocol store reads the same option off the connection and
    sends its lookups unnamed (:mod:`idp.oidc.store.connections`)."""
    if settings.database_pooler == "pgbouncer":
        return {"connect_args": {"prepare_threshold": None}}
    return {}


def driver_error(url: str, exc: Exception) -> StartupError:
    """The error for an ``IDP_DATABASE_URL`` whose driver SQLAlchemy cannot load (``exc``: the
    :class:`ImportError` of the driver's import, or SQLAlchemy's ``NoSuchModuleError`` /
    ``ArgumentError`` for an unknown dialect or a malformed URL)."""
    from sqlalchemy.engine import make_url

    try:
        scheme = make_url(url).drivername
    except Exception:  # noqa: BLE001
        return StartupError(f"IDP_DATABASE_URL is not a database URL: write it as "
                            f"postgresql+psycopg://user@host:5432/database (or sqlite:///path/idp.sqlite3)")
    if isinstance(exc, ModuleNotFoundError):
        reason = f"its Python module {exc.name!r} is not installed"
        fix = f"install that driver into the provider's Python environment, or use {POSTGRES_DRIVER}"
    elif isinstance(exc, ImportError):  # installed but broken (psycopg without its libpq, say)
        reason = f"it cannot be loaded ({' '.join(str(exc).split())})"
        fix = f"repair that driver's installation, or use {POSTGRES_DRIVER}"
    else:
        reason = "SQLAlchemy knows no such database driver"
        fix = f"use {POSTGRES_DRIVER}, or sqlite:///path/idp.sqlite3"
    return StartupError(f"IDP_DATABASE_URL names the database driver {scheme!r}, but {reason}: {fix}")


def check_database(engine) -> None:
    """Connect once to ``engine``'s database server, or raise :class:`StartupError` saying why not. The
    connection is closed again (``engine.dispose()``): gunicorn forks its workers from a process that has
    loaded the app, and no connection may be shared by processes."""
    from sqlalchemy import exc as sa_exc

    if engine.dialect.name == "sqlite":
        return  # a file made (private) by prepare_sqlite_file before any connection, or the process's memory
    try:
        with engine.connect():
            pass
    except sa_exc.DBAPIError as exc:
        reason = " ".join(str(exc.orig or exc).split())  # the driver's words, on one line
        raise StartupError(
            f"IDP_DATABASE_URL: cannot connect to {engine.url.render_as_string(hide_password=True)}"
            f" ({reason}): start the database or correct the host, port, user, password or database name "
            f"in IDP_DATABASE_URL") from None
    finally:
        engine.dispose()


# -- the keys directory -------------------------------------------------------------------------------------


def check_keys_dir(folder: str, *, writable: bool = False) -> None:
    """``IDP_KEYS_DIR`` is a folder this process can read (or not there yet), and, with ``writable``, one it
    can create files in (made 0700 if missing, as the first key would make it): a file is created in it and
    removed at once, since permission bits say nothing of read-only mounts, immutable folders or root."""
    path = Path(folder)
    try:
        if path.is_dir():
            os.listdir(path)
        elif path.exists():
            raise StartupError(f"IDP_KEYS_DIR={folder} is not a directory: point IDP_KEYS_DIR at the "
                               f"folder of the signing keys (created by `idp init`)")
        else:  # not there yet: it can be made only under a folder
            ancestor = path.absolute().parent
            while not ancestor.exists() and ancestor != ancestor.parent:
                ancestor = ancestor.parent
            if not ancestor.is_dir():
                raise StartupError(f"IDP_KEYS_DIR={folder} cannot be a directory ({ancestor} is a file): "
                                   f"point IDP_KEYS_DIR at the folder of the signing keys (created by "
                                   f"`idp init`)")
    except OSError as exc:
        raise StartupError(f"IDP_KEYS_DIR={folder} cannot be read ({exc.strerror}): make it a directory the "
                           f"user running the provider can read") from None
    if not writable:
        return
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor, probe = tempfile.mkstemp(dir=path, prefix=".idp-write-check-")
        os.close(descriptor)
        os.unlink(probe)
    except OSError as exc:
        raise StartupError(f"IDP_KEYS_DIR={folder} is not writable ({exc.strerror}) and holds no signing key "
                           f"to use: make it a directory the user running the provider can write to, or "
                           f"create the first key where it is writable (`idp init`)") from None
