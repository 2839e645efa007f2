"""Batch import of policies from CSV: streamed, committed in batches, idempotent, with a report.

One header line names the columns (any order; ``,`` or ``;`` as the separator, UTF-8 with or without
a BOM)::

    number,kind,product,status,start_date,end_date,full_name,birth_date,email,phone,employer,includes_account

``email``, ``phone``, ``employer`` and ``includes_account`` may be left out of the header; every other
column is required. ``includes_account`` reads ``true/false``, ``yes/no``, ``1/0`` or ``да/нет``.
Each row goes through the same intake as the REST endpoint (:func:`idp.policies.intake.receive`); a
batch of ``batch_size`` rows is one transaction, and then its welcome messages are handed to the
dispatcher. If another writer (the REST endpoint, another import) races a row, the batch is rolled back
and received again, which is safe because receiving is idempotent (no savepoints: SQLite's Python
driver commits at the release of an outermost savepoint, which would cost a disk sync per row). Importing the
same file again changes nothing and sends nothing. Memory stays flat: one row at a time, the session
emptied after every batch, and only the first :data:`MAX_LISTED` problems kept for the report (all of
them go to ``on_problem``).
"""
from __future__ import annotations

import csv
import itertools
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from idp.delivery import dispatch_inline
from idp.errors import BadRequest, Conflict
from idp.extensions import db
from idp.policies.facts import InvalidPolicy, PolicyInput, parse_policy
from idp.policies.intake import ACCOUNT_CREATED, RESULTS, UNCHANGED, store

REQUIRED_COLUMNS = ("number", "kind", "product", "status", "start_date", "end_date", "full_name",
                    "birth_date")
OPTIONAL_COLUMNS = ("email", "phone", "employer", "includes_account")
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
#: A row whose data is not a policy (the import's own result, beside the intake's).
INVALID = "invalid"
#: Problems kept for the final report; the rest are counted (and streamed to ``on_problem``).
MAX_LISTED = 1000
DEFAULT_BATCH = 500
_TRUE = {"true", "yes", "1", "да", "y"}
_FALSE = {"false", "no", "0", "нет", "n"}


class ImportFileError(BadRequest):
    """The file as a whole cannot be imported (its header); nothing was read past it."""

    code = "import.bad_header"


class ImportEncodingError(ImportFileError):
    """A line that is not text in the file's encoding: the import stops there (rows before it stay)."""

    code = "import.bad_encoding"


def decoded_lines(binary: Iterable[bytes], encoding: str = "utf-8-sig") -> Iterator[str]:
    """The lines of a binary file as text, each decoded on its own so a bad byte is reported by its line."""
    for number, raw in enumerate(binary, 1):
        try:
            yield raw.decode(encoding)
        except UnicodeDecodeError:
            hint = " (a file saved by Excel in Windows-1251: --encoding cp1251)" if "utf" in encoding else ""
            raise ImportEncodingError(f"line {number} is not {encoding} text{hint}") from None


@dataclass
class ImportReport:
    rows: int = 0
    #: Why the import stopped before the end of the file (rows before that point are imported), or None.
    stopped: dict | None = None
    counts: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)
    problems: list[dict] = field(default_factory=list)
    problems_left_off: int = 0
    messages_queued: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    def add(self, line: int, number: str | None, result: str, reason: str | None = None,
            detail: str | None = None) -> dict | None:
        self.rows += 1
        self.counts[result] += 1
        if result not in (ACCOUNT_CREATED, "attached", "updated", UNCHANGED):
            self.reasons[reason] += 1
            problem = {"line": line, "number": number, "result": result, "reason": reason, "detail": detail}
            if len(self.problems) < MAX_LISTED:
                self.problems.append(problem)
            else:
                self.problems_left_off += 1
            return problem
        return None

    def as_dict(self) -> dict:
        return {"rows": self.rows, **{name: self.counts[name] for name in RESULTS + (INVALID,)},
                "reasons": dict(sorted(self.reasons.items())), "messages_queued": self.messages_queued,
                "problems": self.problems, "problems_left_off": self.problems_left_off,
                "seconds": round(self.seconds, 3), "rows_per_second": round(self.rate, 1),
                "stopped": self.stopped}


def import_csv(services, stream: Iterable[str], *, source: str = "import", batch_size: int = DEFAULT_BATCH,
               progress: Callable[[ImportReport], None] | None = None,
               on_problem: Callable[[dict], None] | None = None) -> ImportReport:
    """Import every row of ``stream`` (lines of text); raises :class:`ImportFileError` for a header it cannot
    use. A line that cannot be decoded stops the import there: the report says so in ``stopped``."""
    started = time.monotonic()
    report = ImportReport()
    today = services.clock.now().date()
    lines = iter(stream)
    header_line = next(lines, "").lstrip("\ufeff")
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    reader = csv.reader(itertools.chain([header_line], lines), delimiter=delimiter)
    columns = _columns(next(reader, []))
    batch: list[_Row] = []
    try:
        for entry in _entries(reader, columns, today):
            batch.append(entry)
            if len(batch) >= batch_size:
                _flush(services, batch, source, report, on_problem)
                batch = []
                report.seconds = time.monotonic() - started
                if progress is not None:
                    progress(report)
    except ImportEncodingError as exc:
        report.stopped = {"error": exc.code, "error_description": exc.description}
    _flush(services, batch, source, report, on_problem)
    report.seconds = time.monotonic() - started
    if progress is not None:
        progress(report)
    return report


def _entries(reader, columns: list[str], today) -> Iterator[_Row]:
    for values in reader:
        if not any(value.strip() for value in values):
            continue  # a blank line
        row = dict(zip(columns, values, strict=False))  # a short or long row is reported below
        entry = _Row(reader.line_num, (row.get("number") or "").strip() or None)
        if len(values) != len(columns):
            entry.problem = ("import.wrong_column_count", f"{len(values)} values for {len(columns)} columns")
        else:
            try:
                entry.data = parse_policy(row_document(row), today=today)
            except InvalidPolicy as exc:
                entry.problem = (exc.code, exc.description)
        yield entry


@dataclass
class _Row:
    line: int
    number: str | None
    data: PolicyInput | None = None
    problem: tuple[str, str] | None = None


def _flush(services, batch: list[_Row], source: str, report: ImportReport, on_problem) -> None:
    """Store one batch in one transaction, report its rows in file order, then send its messages."""
    valid = [entry for entry in batch if entry.data is not None]
    try:
        outcomes = store(services, [entry.data for entry in valid], source=source) if valid else []
    except Conflict:
        # Still colliding with another writer: one transaction per row, so one row cannot hold back the rest.
        outcomes = []
        for entry in valid:
            try:
                outcomes.extend(store(services, [entry.data], source=source))
            except Conflict:
                outcomes.append(None)
    by_line = {entry.line: outcome for entry, outcome in zip(valid, outcomes, strict=True)}
    deliveries = []
    for entry in batch:
        if entry.data is None:
            problem = report.add(entry.line, entry.number, INVALID, *entry.problem)
        elif (outcome := by_line[entry.line]) is None:
            problem = report.add(entry.line, entry.number, INVALID, "policy.concurrent_change",
                                 "changed concurrently by another writer; import the file again")
        else:
            problem = report.add(entry.line, entry.number, outcome.result, outcome.reason, outcome.detail)
            deliveries.extend(outcome.deliveries)
        if problem is not None and on_problem is not None:
            on_problem(problem)
    report.messages_queued += len(deliveries)
    dispatch_inline(services, deliveries)
    # Nothing of this batch is needed any more: keep the session (and memory) from growing with the file.
    db.session.expunge_all()


def row_document(row: dict) -> dict:
    """A CSV row as the same document the REST endpoint takes."""
    def get(name):
        value = row.get(name)
        return value.strip() or None if isinstance(value, str) else None

    document = {name: get(name) for name in ("number", "kind", "product", "status", "start_date", "end_date")}
    document["person"] = {name: get(name) for name in ("full_name", "birth_date", "email", "phone")}
    employer, includes = get("employer"), get("includes_account")
    if employer is not None or includes is not None:
        document["employer"] = {"name": employer, "includes_account": _flag(includes)}
    return document


def _flag(value: str | None):
    if value is None:
        return None
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    return value  # left as text: the policy check reports it


def _columns(header: Iterable[str]) -> list[str]:
    columns = [name.strip().lower() for name in header]
    if not columns:
        raise ImportFileError("the file is empty: the first line must name the columns")
    unknown = [name for name in columns if name not in COLUMNS]
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    duplicated = sorted({name for name in columns if columns.count(name) > 1})
    if unknown or missing or duplicated:
        parts = ([f"unknown columns: {', '.join(repr(n[:40]) for n in unknown)}"] if unknown else []) \
            + ([f"missing columns: {', '.join(missing)}"] if missing else []) \
            + ([f"repeated columns: {', '.join(duplicated)}"] if duplicated else [])
        raise ImportFileError("; ".join(parts) + f". Expected: {','.join(COLUMNS)}")
    return columns
