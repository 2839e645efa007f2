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
emptied after every batch, no line read longer than :data:`MAX_LINE`, and only the first :data:`MAX_LISTED`
problems kept for the report (all of them go to ``on_problem``).

Every line is accounted for. A row is one physical line: no field of a policy holds a line break, so a
quoted field must close on its own line, and a quote that never closes is that line's error
(``import.unclosed_quote``) instead of swallowing the lines after it. The report counts the header, the
blank lines (nothing but spaces and separators) and the rows, ``lines = header + blank + rows``, and gives
every row one result: stored (``account_created`` … ``refused``), ``invalid`` (listed with its line and
reason: ``policy.*`` for the data, ``import.*`` for the line itself — a wrong number of values, a quote out
of place, a line over :data:`MAX_LINE` characters, bytes that are not text in the file's encoding) or
``not_stored`` (storing it failed: listed with the database's error). When the database or the file fails
mid-way, the rows already read are stored first, as far as the database takes them (a batch it fails is
stored row by row); the import stops and ``stopped`` names the error and the last line read: nothing after
it was read, and importing the whole file again is safe. A row the database alone refuses stops nothing.
"""
from __future__ import annotations

import csv
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from idp.delivery import dispatch_inline
from idp.errors import BadRequest, Conflict
from idp.extensions import db
from idp.policies.facts import InvalidPolicy, PolicyInput, parse_policy
from idp.policies.intake import ACCOUNT_CREATED, RESULTS, UNCHANGED, store

log = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("number", "kind", "product", "status", "start_date", "end_date", "full_name",
                    "birth_date")
OPTIONAL_COLUMNS = ("email", "phone", "employer", "includes_account")
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
#: A row whose data is not a policy or whose line is not a CSV row (the import's own result, beside the
#: intake's).
INVALID = "invalid"
#: A row read and checked that storing failed for (the database refused it or failed).
NOT_STORED = "not_stored"
#: Problems kept for the final report; the rest are counted (and streamed to ``on_problem``).
MAX_LISTED = 1000
DEFAULT_BATCH = 500
#: The longest line a row may be, in characters: a full row of the longest allowed values takes about 1,100.
#: Longer lines are row errors (``import.line_too_long``), read in pieces and never held whole; this also
#: keeps every field under the csv module's own limit, which is never changed (it is global).
MAX_LINE = 8_192
#: Rows in a row that the database failed to store (each in its own transaction) before it counts as failing.
_FAILURES_TO_STOP = 3
_UNTRIED = "not tried after"
_TRUE = {"true", "yes", "1", "да", "y"}
_FALSE = {"false", "no", "0", "нет", "n"}


class ImportFileError(BadRequest):
    """The file as a whole cannot be imported (its header); nothing was read past it."""

    code = "import.bad_header"


class ImportEncodingError(ImportFileError):
    """The header line is not text in the file's encoding: nothing is imported."""

    code = "import.bad_encoding"


@dataclass(frozen=True)
class BadLine:
    """A physical line that cannot be a row whatever it holds (not text, too long): that line's error."""

    reason: str
    detail: str
    #: The start of the line as far as it reads, to name the row's policy number in the report.
    start: str = ""


def decoded_lines(binary: Iterable[bytes], encoding: str = "utf-8-sig") -> Iterator[str | BadLine]:
    """The lines of a binary file as text, each decoded on its own so a bad byte is reported by its line.

    A line that is not text in ``encoding`` is a :class:`BadLine` (``import.bad_encoding``) and the next
    line is read as usual; so is a line over :data:`MAX_LINE` characters, which is skipped in pieces."""
    hint = " (a file saved by Excel in Windows-1251: --encoding cp1251)" if "utf" in encoding.lower() else ""
    named = "utf-8" if encoding.lower() == "utf-8-sig" else encoding
    for raw in _bounded(binary, 4 * MAX_LINE + 2, b"\n"):
        if isinstance(raw, BadLine):
            yield raw
            continue
        try:
            yield raw.decode(encoding)
        except UnicodeDecodeError as exc:
            yield BadLine("import.bad_encoding", f"not {named} text (byte {exc.start + 1} of the line){hint}",
                          start=raw[:1024].decode(encoding, errors="replace"))


def _bounded(stream, limit: int, newline) -> Iterator:
    """Lines of ``stream`` (text or bytes), none held longer than ``limit``: a longer one is a BadLine."""
    readline = getattr(stream, "readline", None)
    if readline is None:
        yield from stream
        return
    while line := readline(limit):
        if len(line) < limit or line.endswith(newline):
            yield line
            continue
        size = len(line)
        while True:  # the rest of the line, piece by piece, only counted
            more = readline(limit)
            size += len(more)
            if not more or more.endswith(newline):
                break
        unit, start = ("bytes", line[:1024].decode(errors="replace")) if isinstance(line, bytes) \
            else ("characters", line[:1024])
        yield BadLine("import.line_too_long",
                      f"{size:,} {unit}; a row may have at most {MAX_LINE:,} characters", start=start)


@dataclass
class ImportReport:
    #: Data rows (lines that are neither the header nor blank), each with one result in ``counts``.
    rows: int = 0
    #: Physical lines read: ``header + blank + rows`` (all of the file unless ``stopped``).
    lines: int = 0
    header: int = 0
    blank: int = 0
    #: Why the import stopped before the file's end, and its last line read (none after it was), or None.
    stopped: dict | None = None
    counts: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)
    problems: list[dict] = field(default_factory=list)
    problems_left_off: int = 0
    messages_queued: int = 0
    seconds: float = 0.0
    #: Rows in a row that storing failed for, up to now (the import stops at :data:`_FAILURES_TO_STOP`).
    failing: int = field(default=0, repr=False)

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

    def stop(self, error: str, description: str) -> None:
        """The import ends here: the first cause is kept."""
        if self.stopped is None:
            self.stopped = {"error": error, "error_description": description, "line": self.lines}

    def as_dict(self) -> dict:
        return {"lines": self.lines, "header": self.header, "blank": self.blank, "rows": self.rows,
                **{name: self.counts[name] for name in RESULTS + (INVALID, NOT_STORED)},
                "reasons": dict(sorted(self.reasons.items())), "messages_queued": self.messages_queued,
                "problems": self.problems, "problems_left_off": self.problems_left_off,
                "seconds": round(self.seconds, 3), "rows_per_second": round(self.rate, 1),
                "stopped": self.stopped}


def import_csv(services, stream: Iterable[str | BadLine], *, source: str = "import",
               batch_size: int = DEFAULT_BATCH, progress: Callable[[ImportReport], None] | None = None,
               on_problem: Callable[[dict], None] | None = None) -> ImportReport:
    """Import every row of ``stream`` (lines of text, or :class:`BadLine`); raises :class:`ImportFileError`
    for a header it cannot use. A failure of the file or of the database mid-way stops the import after
    storing what was read: the report says so in ``stopped``."""
    started = time.monotonic()
    report = ImportReport()
    today = services.clock.now().date()
    lines = _bounded(stream, MAX_LINE + 2, "\n")
    first = next(lines, None)
    if isinstance(first, BadLine):
        error = ImportEncodingError if first.reason == "import.bad_encoding" else ImportFileError
        raise error(f"line 1 (the header): {first.detail}")
    header_line = _strip_newline(first or "").lstrip("\ufeff")
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    try:
        header = next(csv.reader((header_line,), delimiter=delimiter, strict=True), [])
    except csv.Error as exc:
        raise ImportFileError(f"line 1 (the header): {_quoting(exc)[1]}") from None
    columns = _columns(header)
    report.lines = report.header = 1
    batch: list[_Row] = []
    for line in _read(lines, report):
        entry = _entry(report.lines, line, columns, delimiter, today)
        if entry is None:
            report.blank += 1
            continue
        batch.append(entry)
        if len(batch) >= batch_size:
            stored = _flush(services, batch, source, report, on_problem)
            batch = []
            report.seconds = time.monotonic() - started
            if progress is not None:
                progress(report)
            if not stored:
                break
    if batch:
        _flush(services, batch, source, report, on_problem)
    report.seconds = time.monotonic() - started
    if progress is not None:
        progress(report)
    return report


def _read(lines: Iterator, report: ImportReport) -> Iterator:
    """The lines after the header, counted; a failure to read ends them (and the import) with a report."""
    while True:
        try:
            line = next(lines)
        except StopIteration:
            return
        except Exception as exc:  # the file, the disk, the network share: keep what was read
            log.warning("policy import: reading line %s failed", report.lines + 1, exc_info=True)
            report.stop("import.read_failed", f"reading line {report.lines + 1} failed: "
                                              f"{type(exc).__name__}: {exc}")
            return
        report.lines += 1
        yield line


def _strip_newline(line: str) -> str:
    return line[:-1] if line.endswith("\n") else line


def _entry(number: int, line: str | BadLine, columns: list[str], delimiter: str, today) -> _Row | None:
    """One physical line as a row to store, a row with its problem, or None for a blank line."""
    if isinstance(line, BadLine):
        return _Row(number, _number_in(line.start, columns, delimiter), problem=(line.reason, line.detail))
    text = _strip_newline(line)
    if text.endswith("\r"):
        text = text[:-1]
    if len(text) > MAX_LINE:
        return _Row(number, _number_in(text[:1024], columns, delimiter),
                    problem=("import.line_too_long",
                             f"{len(text):,} characters; a row may have at most {MAX_LINE:,} characters"))
    try:
        values = next(csv.reader((text,), delimiter=delimiter, strict=True), [])
    except csv.Error as exc:
        return _Row(number, _number_in(text, columns, delimiter), problem=_quoting(exc))
    if not any(value.strip() for value in values):
        return None  # a blank line
    row = dict(zip(columns, values, strict=False))  # a short or long row is reported below
    entry = _Row(number, (row.get("number") or "").strip() or None)
    if len(values) != len(columns):
        entry.problem = ("import.wrong_column_count", f"{len(values)} values for {len(columns)} columns")
    else:
        try:
            entry.data = parse_policy(row_document(row), today=today)
        except InvalidPolicy as exc:
            entry.problem = (exc.code, exc.description)
    return entry


def _number_in(text: str, columns: list[str], delimiter: str) -> str | None:
    """The policy number of a line that is not a row, as far as it reads: the admin finds the policy by it."""
    try:
        loose = next(csv.reader((text.replace("\r", " "),), delimiter=delimiter), [])
    except csv.Error:
        return None
    return (dict(zip(columns, loose, strict=False)).get("number") or "").strip()[:64] or None


def _quoting(exc: csv.Error) -> tuple[str, str]:
    """A line the csv module refuses, as a reason code and words an admin can act on."""
    message = str(exc)
    if "unexpected end of data" in message:
        return ("import.unclosed_quote", 'a field opens with a quote that does not close on its line '
                                         '(a row is one line; a quote inside a field is written twice: "")')
    if "expected after" in message:
        return ("import.stray_quote", 'text after the closing quote of a field (quote the whole field and '
                                      'write a quote inside it twice: "")')
    if "new-line character" in message:
        return ("import.malformed_line", "a carriage return (CR) inside the line, outside quotes")
    return ("import.malformed_line", message)


@dataclass
class _Row:
    line: int
    number: str | None
    data: PolicyInput | None = None
    problem: tuple[str, str] | None = None


def _flush(services, batch: list[_Row], source: str, report: ImportReport, on_problem) -> bool:
    """Store one batch in one transaction, report its rows in file order, then send its messages.

    If storing the batch fails, its rows are stored one at a time so that a row the database refuses keeps
    none of the others out. When :data:`_FAILURES_TO_STOP` rows in a row fail, across batches, the database
    is taken to be failing: the rest of the batch is ``not_stored`` untried, the import stops (``stopped``)
    and False is returned."""
    valid = [entry for entry in batch if entry.data is not None]
    failed: dict[int, str] = {}
    try:
        outcomes = store(services, [entry.data for entry in valid], source=source) if valid else []
        report.failing = 0 if valid else report.failing
    except Conflict:
        # Still colliding with another writer: one transaction per row, so one row cannot hold back the rest.
        outcomes = _one_by_one(services, valid, source, report, failed)
    except Exception:
        log.warning("policy import: storing lines %s-%s failed; storing them one by one", batch[0].line,
                    batch[-1].line, exc_info=True)
        _rollback()
        outcomes = _one_by_one(services, valid, source, report, failed)
    by_line = {entry.line: outcome for entry, outcome in zip(valid, outcomes, strict=True)}
    deliveries = []
    for entry in batch:
        if entry.data is None:
            problem = report.add(entry.line, entry.number, INVALID, *entry.problem)
        elif entry.line in failed:
            problem = report.add(entry.line, entry.number, NOT_STORED, "import.not_stored",
                                 failed[entry.line])
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
    if report.failing < _FAILURES_TO_STOP:
        return True
    last = max(line for line, why in failed.items() if not why.startswith(_UNTRIED))
    report.stop("import.store_failed",
                f"storing failed for {report.failing} rows in a row, the last on line {last}: "
                f"{failed[last]}; the rows not stored are listed; nothing after line {report.lines} was read "
                f"(importing the file again is safe)")
    return False


def _one_by_one(services, valid: list[_Row], source: str, report: ImportReport,
                failed: dict[int, str]) -> list:
    """Each row in its own transaction; ``failed`` gets the rows that were not stored, and why."""
    outcomes: list = []
    error = ""
    for entry in valid:
        if report.failing >= _FAILURES_TO_STOP:  # the database is failing: the rest is not tried
            failed[entry.line] = f"{_UNTRIED} {report.failing} failures in a row ({error})"
            outcomes.append(None)
            continue
        try:
            outcomes.extend(store(services, [entry.data], source=source))
            report.failing = 0
        except Conflict:
            outcomes.append(None)
            report.failing = 0
        except Exception as exc:
            _rollback()
            first = str(exc).splitlines()[0][:300] if str(exc) else ""
            error = failed[entry.line] = f"{type(exc).__name__}: {first}"
            outcomes.append(None)
            report.failing += 1
    return outcomes


def _rollback() -> None:
    try:
        db.session.rollback()
    except Exception:  # the connection itself is gone: the next use gets a fresh one
        log.warning("policy import: rollback failed", exc_info=True)


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
