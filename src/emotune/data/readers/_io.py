"""Decoding files line by line and parsing table records, keeping line numbers.

Every reader goes through here so that an undecodable byte, a malformed CSV
record or a broken JSON line is reported with its file and line.  Files are
split on ``b"\\n"`` before decoding, so only ASCII-compatible encodings (UTF-8,
Latin-1, cp1252, ...) are supported.
"""

from __future__ import annotations

import codecs
import csv
import json
from pathlib import Path
from typing import Any, Iterable, Iterator

from emotune.data.readers._base import BadRowLog
from emotune.exceptions import ConfigError, DatasetError

__all__ = [
    "read_bytes",
    "choose_encoding",
    "detect_encoding",
    "decode_lines",
    "iter_table",
    "iter_jsonl",
    "text_problem",
    "LINE_FIELD",
]

#: ``BadRow.field`` for a problem with the whole line (undecodable, malformed).
LINE_FIELD = "(line)"


def read_bytes(path: Path) -> bytes:
    """The bytes of ``path``; an unreadable file is a :class:`DatasetError`."""
    try:
        return path.read_bytes()
    except OSError as err:
        raise DatasetError(f"cannot read {path}: {err.strerror or err}") from None


def choose_encoding(data: bytes, encoding: str | None, *, default: str = "utf-8", fallback: str | None = None) -> str:
    """The encoding to decode ``data`` with.

    ``encoding`` wins when given. Otherwise ``default``, unless ``fallback`` is set
    and ``data`` is not valid in ``default`` (e.g. UTF-8 first, then Latin-1).
    """
    if encoding is not None:
        name = codecs.lookup(encoding).name
        if name.startswith(("utf-16", "utf-32")):
            raise ConfigError(f"encoding {encoding!r} is not supported (line-based reading); convert the file to UTF-8")
        return encoding
    if fallback is None:
        return default
    try:
        data.decode(default)
    except UnicodeDecodeError:
        return fallback
    return default


def detect_encoding(data: bytes) -> tuple[str, str | None]:
    """The encoding of ``data`` when the user named none, and a note when it is not plain UTF-8.

    Rules, in order: a UTF-8 byte-order mark means UTF-8 (the mark is dropped); a UTF-16/32 mark is an
    error (line-based reading); bytes that decode as UTF-8 are UTF-8; otherwise the file is read as
    Windows-1252 (Latin-1 plus typographic quotes in 0x80-0x9F) when every byte is defined there, else as
    Latin-1 (ISO-8859-1, which decodes any byte). The note names the first byte that is not UTF-8, so a
    user can check the guess and pass ``--encoding`` (config key ``encoding``) to override it.

    Returns:
        ``(encoding, note)``; ``note`` is ``None`` for plain UTF-8.
    """
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8", "UTF-8 with a byte-order mark (dropped)"
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise DatasetError("the file starts with a UTF-16/UTF-32 byte-order mark; convert it to UTF-8 "
                           "(e.g. `iconv -f UTF-16 -t UTF-8`), line-based reading needs an ASCII-compatible encoding")
    try:
        data.decode("utf-8")
        return "utf-8", None
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        where = f"byte {data[err.start:err.start + 1]!r} on line {line}"
    try:
        data.decode("cp1252")
        chosen = "cp1252"
    except UnicodeDecodeError:
        chosen = "latin-1"
    return chosen, (f"not valid UTF-8 ({where}); read as {chosen} (Latin-1 family). "
                    "Pass --encoding (config key encoding) if that is wrong")


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be a sample's text, or ``None``: a NUL or another ASCII control byte.

    Tabs, newlines and carriage returns are allowed; every other C0 control (U+0000-U+001F) and DEL
    (U+007F) is not: such a text is binary junk or a broken export, and tokenizers would drop or keep
    it silently. C1 controls (U+0080-U+009F) are left alone: Latin-1 decodes stray high bytes (e.g. the
    embedded tweets' mangled emoji) to them, and that is a matter of the file's encoding, not of the row.
    """
    for col, ch in enumerate(text, 1):
        if (ch < " " and ch not in "\t\n\r") or ch == "\x7f":
            name = "NUL byte" if ch == "\0" else "control character"
            return f"text holds a {name} U+{ord(ch):04X} at column {col}"
    return None


def decode_lines(data: bytes, encoding: str, *, file: Path, log: BadRowLog) -> Iterator[tuple[int, str]]:
    """Decode ``data`` line by line.

    Yields ``(line_number, text)`` with 1-based line numbers and the line ending
    kept (``"...\\r\\n"``); a leading byte-order mark is dropped. A line that does
    not decode goes to ``log`` and is not yielded.
    """
    pieces = data.split(b"\n")
    last = len(pieces) - 1
    for i, raw in enumerate(pieces):
        if i == last:
            if not raw:
                break
        else:
            raw += b"\n"
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as err:
            bad = raw[err.start : err.end]
            log.add(
                file,
                i + 1,
                LINE_FIELD,
                f"cannot decode byte(s) {bad!r} at column {err.start + 1} as {encoding}; "
                "pass the file's real encoding with --encoding (config key encoding, e.g. latin-1)",
            )
            continue
        if i == 0 and text.startswith("\ufeff"):
            text = text[1:]
        yield i + 1, text


class _LineFeed:
    """Feeds decoded lines to :mod:`csv` and remembers where each record starts."""

    def __init__(self, lines: Iterable[tuple[int, str]]) -> None:
        self._lines = iter(lines)
        self.record_start = 0

    def __iter__(self) -> "_LineFeed":
        return self

    def __next__(self) -> str:
        number, text = next(self._lines)
        if self.record_start == 0:
            self.record_start = number
        return text


def iter_table(
    path: Path,
    encoding: str,
    log: BadRowLog,
    *,
    delimiter: str = ",",
    quoting: int = csv.QUOTE_MINIMAL,
) -> tuple[list[str], Iterator[tuple[int, dict[str, str]]]]:
    """Parse a delimited file with a header row.

    Returns:
        ``(columns, records)``: the header's column names, and an iterator of
        ``(line_number, {column: value})``. Blank lines are not records; a record
        with the wrong number of fields or a CSV syntax error goes to ``log``.
    """
    data = read_bytes(path)
    feed = _LineFeed(decode_lines(data, encoding, file=path, log=log))
    reader = csv.reader(feed, delimiter=delimiter, quoting=quoting, strict=False)

    def next_record() -> tuple[int, list[str]] | None:
        while True:
            feed.record_start = 0
            try:
                row = next(reader)
            except StopIteration:
                return None
            except csv.Error as err:
                log.add(path, feed.record_start, LINE_FIELD, f"malformed record: {err}")
                continue
            if row:
                return feed.record_start, row

    first = next_record()
    if first is None:
        raise DatasetError(f"{path} is empty: expected a header row with the column names")
    columns = [c.strip() for c in first[1]]

    def records() -> Iterator[tuple[int, dict[str, str]]]:
        while (item := next_record()) is not None:
            line, row = item
            if len(row) != len(columns):
                if all(not v.strip() for v in row):
                    continue  # a line of bare delimiters carries no data
                log.add(
                    path,
                    line,
                    LINE_FIELD,
                    f"expected {len(columns)} fields ({', '.join(columns)}), found {len(row)}",
                )
                continue
            yield line, dict(zip(columns, row))

    return columns, records()


def iter_jsonl(path: Path, encoding: str, log: BadRowLog) -> Iterator[tuple[int, dict[str, Any]]]:
    """Parse a JSON-lines file: yields ``(line_number, object)``; blank lines are skipped."""
    data = read_bytes(path)
    for line, text in decode_lines(data, encoding, file=path, log=log):
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as err:
            log.add(path, line, LINE_FIELD, f"invalid JSON: {err.msg} at column {err.colno}")
            continue
        if not isinstance(obj, dict):
            log.add(path, line, LINE_FIELD, f"expected a JSON object, found {type(obj).__name__}")
            continue
        yield line, obj
