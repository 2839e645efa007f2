"""The embedded database's file: created private (mode 0600) before SQLite first opens it.

SQLite creates a missing database file with the process umask's mode, 0644 under the usual umask: every
local user could read the accounts, password hashes and tokens. So the provider creates the file itself,
empty (an empty file is an empty SQLite database) and readable by its owner only, before the first
connection; SQLite then gives its side files (``-wal``, ``-shm``, a journal) the mode of the database
file, and the writers' lock file beside it (:mod:`idp.oidc.store.connections`) is made 0600 as well.

A file that already exists is left as it is (an operator may have chosen a group on purpose), with a
warning when others can read it. In-memory databases and ``file:`` URIs are not files of ours.
"""
from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

#: The database file's mode: read and write for the provider's user, nothing for anyone else.
MODE = 0o600


def prepare_sqlite_file(database: str | None) -> Path | None:
    """Create the SQLite database file ``database`` (an engine URL's database: a path) with :data:`MODE`,
    and its folder, if missing; warn about an existing one others can read. Returns the file's path, or
    None when ``database`` is not a file (memory, a ``file:`` URI)."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    path = Path(database)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, MODE)
    except FileExistsError:  # there already, or made by another worker a moment ago
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            log.warning("database file %s can be read by other users (mode %o): `chmod 600` it and its -wal "
                        "and -shm files", path, mode)
        return path
    try:
        os.fchmod(descriptor, MODE)  # whatever the umask took away, the owner can read and write
    finally:
        os.close(descriptor)
    return path
