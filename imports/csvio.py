"""CSV files as streams: reading uploads (gzip, encoding and delimiter detection, limits), and the
formula-injection rule for every cell this service writes (errors.csv, exports).

Nothing here reads a whole file into memory: files are opened from Django's storage and decoded
and parsed incrementally. Every problem is an ImportFileError with a message a user can act on.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.core.files.storage import default_storage

DELIMITERS = [",", ";", "\t", "|"]
# A spreadsheet reads a cell starting with one of these as a formula (or a DDE command).
FORMULA_PREFIXES = "=+-@\t\r"
SAMPLE_BYTES = 64 * 1024
GZIP_MAGIC = b"\x1f\x8b"

# The csv module's per-field limit is process-wide; a field above it is an error we report.
csv.field_size_limit(2 * 1024 * 1024)


class ImportFileError(Exception):
    def __init__(self, message: str, *, code: str = "invalid_file", status: int = 400):
        super().__init__(message)
        self.message, self.code, self.status = message, code, status


class _Limited(io.RawIOBase):
    """A binary stream that refuses to yield more than `limit` bytes (gzip bombs, huge files)."""

    def __init__(self, inner, limit: int):
        self.inner, self.limit, self.count = inner, limit, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.inner.read(len(buffer))
        self.count += len(data)
        if self.count > self.limit:
            raise ImportFileError(
                f"The file is larger than the limit of {self.limit} bytes (IMPORT_MAX_FILE_BYTES).",
                code="too_large",
                status=413,
            )
        buffer[: len(data)] = data
        return len(data)


def open_binary(name: str, *, compressed: bool):
    """The file's (decompressed) bytes, as a buffered stream with the size limit applied."""
    raw = default_storage.open(name, "rb")
    source = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
    return io.BufferedReader(_Limited(source, settings.IMPORT_MAX_FILE_BYTES), buffer_size=SAMPLE_BYTES)


def is_gzip(name: str) -> bool:
    with default_storage.open(name, "rb") as raw:
        return raw.read(2) == GZIP_MAGIC


# What a file that is not UTF-8 (nor UTF-16) is read as: Windows' "ANSI" code page, which Excel's plain
# "CSV" export writes - Latin-1 with curly quotes, dashes, the euro sign... in 0x80-0x9F, where Latin-1
# has control characters nobody types (O'Brien with a curly quote became O\x92Brien). Its five
# unassigned bytes read as Latin-1 reads them (BYTE_FALLBACK), so any byte decodes, as with Latin-1.
LEGACY_ENCODING = "windows-1252"
BYTE_FALLBACK = "contacts-byte-fallback"


def _byte_fallback(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return "".join(chr(b) for b in exc.object[exc.start : exc.end]), exc.end


codecs.register_error(BYTE_FALLBACK, _byte_fallback)


def decode_errors(encoding: str) -> str:
    return BYTE_FALLBACK if encoding == LEGACY_ENCODING else "strict"


def detect_encoding(sample: bytes) -> str:
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if len(sample) >= 4 and sample[1::2].count(0) > len(sample) // 4 and sample[0::2].count(0) == 0:
        return "utf-16-le"
    if len(sample) >= 4 and sample[0::2].count(0) > len(sample) // 4 and sample[1::2].count(0) == 0:
        return "utf-16-be"
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(sample) - 3:  # a character cut by the end of the sample
            return "utf-8"
        return LEGACY_ENCODING


def detect_delimiter(text: str) -> str:
    lines = [line for line in text.splitlines()[:50] if line.strip()]
    if not lines:
        return ","
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        counts = {d: lines[0].count(d) for d in DELIMITERS}
        best = max(counts, key=counts.get)
        return best if counts[best] else ","


@dataclass
class Detected:
    compressed: bool
    encoding: str
    delimiter: str


def detect(name: str) -> Detected:
    compressed = is_gzip(name)
    try:
        with open_binary(name, compressed=compressed) as stream:
            sample = stream.read(SAMPLE_BYTES)
    except (OSError, EOFError, zlib.error) as exc:
        raise ImportFileError("The gzip file is damaged or truncated.") from exc
    if not sample.strip():
        raise ImportFileError("The file is empty.", code="empty_file")
    encoding = detect_encoding(sample)
    text = sample.decode(encoding, errors="ignore")
    if "\x00" in text:
        raise ImportFileError("This looks like a binary file, not CSV text.", code="binary_file")
    return Detected(
        compressed=compressed, encoding=encoding, delimiter=detect_delimiter(text.lstrip("\ufeff"))
    )


class _Lines:
    """The file's lines as the csv reader asks for them, each refused before it is parsed when it is
    longer than IMPORT_MAX_LINE_CHARS or brings the current record past IMPORT_MAX_SEPARATORS
    separators. The csv module has neither bound: it reads a whole line (a 50 MB line is 50 MB of
    text, a gzip bomb without newlines is the whole bomb) and splits a record into as many cells as
    it has separators (a million columns is a list of a million strings) before anything can count
    them. A record has at most separators + 1 cells, whatever its quoting, so bounding the separators
    of the lines a record is read from bounds its cells."""

    def __init__(self, text: io.TextIOBase, delimiter: str):
        self.text, self.delimiter = text, delimiter
        self.max_chars = settings.IMPORT_MAX_LINE_CHARS
        self.max_separators = settings.IMPORT_MAX_SEPARATORS
        self.max_record_chars = settings.IMPORT_MAX_RECORD_CHARS
        self.line = 0
        self.separators = 0  # in the current record; reset by Rows before each record
        self.record_chars = 0  # likewise: quoted cells spanning lines make one record of many lines

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = self.text.readline(self.max_chars + 1)
        if not line:
            raise StopIteration
        self.line += 1
        self.record_chars += len(line)
        if self.record_chars > self.max_record_chars:
            raise ImportFileError(
                f"Line {self.line}: one row (its quoted cells spanning lines) is longer than "
                f"{self.max_record_chars} characters (IMPORT_MAX_RECORD_CHARS).",
                code="row_too_long",
            )
        self.separators += line.count(self.delimiter)
        if self.separators > self.max_separators:
            raise ImportFileError(
                f"Line {self.line}: more than {self.max_separators} separators in one row "
                f"(IMPORT_MAX_SEPARATORS); a file has at most {settings.IMPORT_MAX_COLUMNS} columns "
                "(IMPORT_MAX_COLUMNS).",
                code="too_many_columns",
            )
        if len(line) > self.max_chars and not line.endswith(("\n", "\r")):
            raise ImportFileError(
                f"Line {self.line} is longer than {self.max_chars} characters (IMPORT_MAX_LINE_CHARS).",
                code="line_too_long",
            )
        return line


class Rows:
    """csv.reader over bounded lines (see _Lines); `line_num` as the csv reader's (the last line read),
    `start_line` the line the last record began on (a quoted cell may span lines)."""

    def __init__(self, text: io.TextIOBase, delimiter: str):
        self.lines = _Lines(text, delimiter)
        self.reader = csv.reader(self.lines, delimiter=delimiter, strict=True)
        self.start_line = 0

    @property
    def line_num(self) -> int:
        return self.reader.line_num

    def __iter__(self) -> Iterator[list[str]]:
        return self

    def __next__(self) -> list[str]:
        # The csv reader asks for lines only while it reads a record (it never reads ahead), so the
        # lines read from here on are this record's. A blank line is a record of its own ([]).
        self.lines.separators = self.lines.record_chars = 0
        self.start_line = self.reader.line_num + 1
        return next(self.reader)

    def header(self) -> list[str] | None:
        """The first row that is not blank (blank lines before the header are skipped, as blank
        rows anywhere), or None for a file of blank lines."""
        for row in self:
            if any(cell.strip() for cell in row):
                return row
        return None


def open_rows(name: str, *, compressed: bool, encoding: str, delimiter: str) -> tuple[Rows, io.TextIOBase]:
    """The rows of the stored file (header first; `line_num` for messages) and its text stream."""
    binary = open_binary(name, compressed=compressed)
    text = io.TextIOWrapper(binary, encoding=encoding, errors=decode_errors(encoding), newline="")
    return Rows(text, delimiter), text


def check_text(row: list[str]) -> None:
    for cell in row:
        if "\x00" in cell:
            raise ImportFileError(
                "This looks like a binary file, not CSV text (NUL characters).", code="binary_file"
            )


def neutralise(cell: str) -> str:
    """Spreadsheet formula injection: a cell starting with = + - @ tab or CR is prefixed with '."""
    return f"'{cell}" if cell and cell[0] in FORMULA_PREFIXES else cell


def unneutralise(cell: str) -> str:
    """An import's reading of a cell `neutralise` wrote (ours, or a spreadsheet's): the ' before = + -
    @ tab or CR is not part of the value, so an exported file imports back as it was."""
    return cell[1:] if len(cell) > 1 and cell[0] == "'" and cell[1] in FORMULA_PREFIXES else cell


def cell_sql(expression: str) -> str:
    """A text expression as a CSV cell written by PostgreSQL: `neutralise`d, and '' as NULL (COPY ...
    CSV writes NULL as an empty cell but '' as "", where the csv module writes both as nothing)."""
    prefixed = f"'''' || {expression}"
    cases = " ".join(f"WHEN {ord(c)} THEN {prefixed}" for c in FORMULA_PREFIXES)
    return f"CASE ascii({expression}) WHEN 0 THEN NULL {cases} ELSE {expression} END"
