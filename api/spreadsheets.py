"""Tables a clerk uploads: CSV or XLSX, read as a header and rows of cells with their row numbers.

CSV comes as UTF-8 (with or without the byte-order mark Excel writes) or as GB18030, which is what
Excel on a Chinese Windows saves; XLSX is read with openpyxl in read-only mode, first sheet, cell
values not formulas. Row numbers are the ones the clerk sees in Excel (the header is row 1), so an
error can say "第 7 行". Nothing here knows what the columns mean.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

Cell = str | int | float | dt.date | dt.datetime | bool | None
MAX_COLUMNS = 64  # columns past this are not read: no table of ours is wider


class UnreadableTable(ValueError):
    """The file is not a table we can read: ``rule`` names why, the message says it to a clerk."""

    def __init__(self, rule: str, zh: str, en: str) -> None:
        super().__init__(f"{zh} ({en})")
        self.rule, self.zh, self.en = rule, zh, en


@dataclass(frozen=True)
class Row:
    number: int  # as Excel shows it: the header is row 1
    cells: dict[str, Cell]  # by header


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[Row]


def read_table(content: bytes, filename: str, *, max_rows: int) -> Table:
    """The table in ``content``: XLSX when it is a ZIP (whatever its name says), CSV otherwise.
    Blank rows are skipped; more than ``max_rows`` rows is refused before any is checked."""
    if not content.strip():
        raise UnreadableTable("empty_file", "文件是空的", "the file is empty")
    if content[:4] == b"PK\x03\x04":
        lines = _xlsx_lines(content)
    elif filename.lower().endswith((".xlsx", ".xls")):
        raise UnreadableTable("table_format", "无法读取此 Excel 文件：请另存为 .xlsx 或 CSV（UTF-8）后再上传",
                              "this Excel file cannot be read: save it as .xlsx or CSV (UTF-8) and upload it again")
    else:
        lines = _csv_lines(content)
    header_line = next(lines, None)
    if header_line is None:
        raise UnreadableTable("empty_file", "文件是空的", "the file is empty")
    header = [str(h).strip() if h is not None else "" for h in header_line]
    while header and not header[-1]:
        header.pop()
    if not any(header):
        raise UnreadableTable("header_missing", "第 1 行须为列名", "row 1 must hold the column names")
    rows: list[Row] = []
    for number, values in enumerate(lines, start=2):
        blank = all(v is None or (isinstance(v, str) and not v.strip()) for v in values)
        # blank rows count too: a sheet of a million empty rows is refused
        if number > 2 * max_rows + 1000 or (not blank and len(rows) == max_rows):
            raise UnreadableTable("too_many_rows", f"一次最多导入 {max_rows} 行，请分成几个文件",
                                  f"at most {max_rows} rows at a time; split the file")
        if blank:
            continue
        cells = {name: (values[i] if i < len(values) else None) for i, name in enumerate(header) if name}
        rows.append(Row(number=number, cells=cells))
    return Table(header=header, rows=rows)


def _csv_lines(content: bytes) -> Iterator[list[Any]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = content.decode(encoding)
        except UnicodeDecodeError:
            continue
        return _csv_rows(text)
    raise UnreadableTable("table_encoding", "无法识别文件的文字编码：请存为 UTF-8 编码的 CSV",
                          "the file's text encoding is not recognised: save it as CSV in UTF-8")


def _csv_rows(text: str) -> Iterator[list[Any]]:
    try:
        for row in csv.reader(io.StringIO(text, newline="")):
            yield row[:MAX_COLUMNS]
    except csv.Error as exc:
        raise UnreadableTable("table_format", f"无法读取此 CSV 文件：{exc}", f"this CSV file cannot be read: {exc}") from None


def _xlsx_lines(content: bytes) -> Iterator[list[Any]]:
    unreadable = UnreadableTable("table_format", "无法读取此 Excel 文件：文件已损坏或不是 .xlsx",
                                 "this Excel file cannot be read: it is damaged or not an .xlsx")
    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError):
        raise unreadable from None
    try:
        for values in book.worksheets[0].iter_rows(values_only=True, max_col=MAX_COLUMNS):
            yield list(values)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError):
        raise unreadable from None
    finally:
        book.close()
