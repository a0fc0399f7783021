"""The CSV and XLSX template: one row per report, columns named as the API fields.

The header may be written in any language of COLUMNS (the six ITU languages) or
with the API field names; matching ignores case, accents and spacing. The same table makes
the downloadable templates (exchange/templates_csv.py), so what we hand out is what we read.

Spreadsheet formulas (docs/formats.md, "CSV and XLSX"): a text cell starting with ``=``,
``+``, ``@``, a tab or carriage return, or ``-`` followed by anything but a space, is
*refused* with its line and column: Sentinelle never evaluates it, but the text would run
in the next spreadsheet that opens an export, and a report title has no reason to look like
a formula. The spreadsheet convention for literal text — a leading apostrophe, which our
own exports add — is accepted and removed. XLSX formula cells are refused likewise.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import re
import tempfile
import unicodedata
import zipfile
from collections.abc import Iterator
from typing import Any, BinaryIO

from sentinelle.exchange.formats._common import parse_time, peek
from sentinelle.exchange.records import FormatError, Record, Rejection, ReportRecord

NAME = "csv"

# field -> labels per language. Order = the template's column order.
COLUMNS: dict[str, dict[str, str]] = {
    "title": {"en": "Title", "fr": "Titre", "es": "Título", "ar": "العنوان", "zh": "标题",
              "ru": "Название"},
    "category": {"en": "Category", "fr": "Catégorie", "es": "Categoría", "ar": "الفئة",
                 "zh": "类别", "ru": "Категория"},
    "rsit": {"en": "RSIT class and type", "fr": "Classe et type RSIT", "es": "Clase y tipo RSIT",
             "ar": "فئة RSIT ونوعه", "zh": "RSIT 类和类型", "ru": "Класс и тип RSIT"},
    "tlp": {"en": "TLP", "fr": "TLP", "es": "TLP", "ar": "TLP", "zh": "TLP", "ru": "TLP"},
    "severity": {"en": "Severity", "fr": "Gravité", "es": "Gravedad", "ar": "درجة الخطورة",
                 "zh": "严重程度", "ru": "Степень серьёзности"},
    "started_at": {"en": "Started", "fr": "Début", "es": "Inicio", "ar": "البداية",
                   "zh": "开始时间", "ru": "Начало"},
    "ended_at": {"en": "Ended", "fr": "Fin", "es": "Fin", "ar": "النهاية", "zh": "结束时间",
                 "ru": "Окончание"},
    "detected_at": {"en": "Detected", "fr": "Détecté", "es": "Detectado", "ar": "الكشف",
                    "zh": "检测时间", "ru": "Обнаружено"},
    "affected_services": {"en": "Affected services", "fr": "Services touchés",
                          "es": "Servicios afectados", "ar": "الخدمات المتأثرة", "zh": "受影响服务",
                          "ru": "Затронутые услуги"},
    "users_affected": {"en": "Users affected", "fr": "Utilisateurs touchés",
                       "es": "Usuarios afectados", "ar": "المستخدمون المتأثرون", "zh": "受影响用户",
                       "ru": "Затронутые пользователи"},
    "alleged_origin_state": {"en": "Alleged origin State", "fr": "État d'origine présumé",
                             "es": "Estado de origen presunto", "ar": "دولة المصدر المزعوم",
                             "zh": "被指称来源国",
                             "ru": "Предполагаемое государство происхождения"},
    "description": {"en": "Narrative", "fr": "Récit", "es": "Relato", "ar": "السرد", "zh": "陈述",
                    "ru": "Описание событий"},
    "narrative_language": {"en": "Narrative language", "fr": "Langue du récit",
                           "es": "Idioma del relato", "ar": "لغة السرد", "zh": "陈述语言",
                           "ru": "Язык описания"},
    "indicators": {"en": "Indicators", "fr": "Indicateurs", "es": "Indicadores", "ar": "المؤشرات",
                   "zh": "指标", "ru": "Индикаторы"},
    "stix_id": {"en": "STIX identifier", "fr": "Identifiant STIX", "es": "Identificador STIX",
                "ar": "معرّف STIX", "zh": "STIX 标识符", "ru": "Идентификатор STIX"},
}
LANGUAGES = ("en", "fr", "es", "ar", "zh", "ru")
TLP = ("clear", "green", "amber", "amber+strict", "red")
SEVERITIES = ("low", "medium", "high", "critical")
MAX_CELL = 100_000
MAX_USERS_DIGITS = 12
# XLSX limits, checked on the zip's directory before openpyxl reads anything (docs/formats.md,
# "CSV and XLSX"). A report template of thousands of rows inflates to a few MiB; openpyxl holds
# about three times the XML it reads, and a 500 kB zip of one inflated sheet once took 1.5 GiB.
# zipfile never inflates a member past the size the directory declares, so the sum of the
# declared sizes bounds the work.
MAX_XLSX_INFLATED = 32 * 1024 * 1024
MAX_XLSX_MEMBERS = 1000
# openpyxl pads every row to its last cell and yields an empty row for every missing one: one
# cell at XFD1048576 meant 1,048,576 rows of 16,384 cells from a 5 kB file.
MAX_XLSX_ROWS = 100_000
MAX_XLSX_COLUMNS = 1024
_FORMULA = ("=", "+", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff20")


def _key(label: str) -> str:
    text = unicodedata.normalize("NFKD", str(label or "")).casefold()
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return re.sub(r"[\s_'’-]+", " ", text).strip()


HEADER_KEYS: dict[str, str] = {}
for _field, _labels in COLUMNS.items():
    HEADER_KEYS[_key(_field)] = _field
    for _label in _labels.values():
        HEADER_KEYS[_key(_label)] = _field


def column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def sniff(head: bytes, name: str = "") -> bool:
    if name.lower().endswith(".csv"):
        return True
    text = head.decode("utf-8", "replace").lstrip("\ufeff")
    first = text.split("\n", 1)[0]
    cells = re.split(r"[,;\t]", first)
    return len(cells) >= 2 and any(HEADER_KEYS.get(_key(c.strip(' "'))) == "title"
                                   for c in cells)


def parse(stream: BinaryIO, *, name: str = "") -> Iterator[Record]:
    head = peek(stream, 65536)
    if head.startswith(b"PK\x03\x04"):
        raise FormatError("this file is not CSV; it looks like xlsx (a zip archive)")
    encoding = "utf-8-sig"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:   # not just a character cut at the end of the head
            encoding = "cp1252"         # Excel's "CSV" on Windows in French or Spanish
    text = codecs.getreader(encoding)(stream, errors="strict")
    first = head.decode(encoding, "replace").split("\n", 1)[0]
    delimiter = max(",;\t", key=first.count)
    reader = csv.reader(_lines(text), delimiter=delimiter)
    try:
        yield from rows(enumerate(reader, start=1))
    except UnicodeDecodeError as exc:
        raise FormatError(f"CSV: the file is not {encoding} text ({exc.reason}); save it as "
                          f"“CSV UTF-8”") from None
    except csv.Error as exc:
        raise FormatError(f"CSV: {exc}") from None


def _lines(text: Any) -> Iterator[str]:
    while True:
        line = text.readline()
        if not line:
            return
        yield line


def rows(numbered: Iterator[tuple[int, list[Any]]]) -> Iterator[Record]:
    """Records from (line number, cells) pairs, the header first. Shared by CSV and XLSX."""
    header: list[str | None] | None = None
    for number, cells in numbered:
        if header is None:
            header = _header(number, cells)
            continue
        if all(_blank(c) for c in cells):
            continue
        yield _row(number, header, cells)
    if header is None:
        raise FormatError("the file is empty: no header line")


def _blank(value: Any) -> bool:
    if isinstance(value, FormulaCell):
        return False
    return value is None or (isinstance(value, str) and not value.strip())


def _header(number: int, cells: list[Any]) -> list[str | None]:
    fields: list[str | None] = []
    for index, cell in enumerate(cells):
        if _blank(cell):
            fields.append(None)
            continue
        field = HEADER_KEYS.get(_key(str(cell)))
        if field is None:
            raise FormatError(f"line {number}, column {column_letter(index)}: unknown column "
                              f"“{str(cell)[:60]}” (expected: {', '.join(COLUMNS)})")
        if field in fields:
            raise FormatError(f"line {number}, column {column_letter(index)}: column "
                              f"“{field}” appears twice")
        fields.append(field)
    if "title" not in fields:
        raise FormatError(f"line {number}: no title column; this is not a Sentinelle "
                          f"report template")
    return fields


class _CellError(ValueError):
    pass


def text_cell(value: Any) -> str:
    """A cell as text; formula-like text refused, the apostrophe convention undone."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    text = str(value)
    if len(text) > MAX_CELL:
        raise _CellError(f"longer than {MAX_CELL} characters")
    if text.startswith("'") and len(text) > 1 and (
            text[1:].startswith(_FORMULA) or text[1] == "-"):
        return text[1:]
    if text.startswith(_FORMULA) or (text.startswith(("-", "\uff0d")) and len(text) > 1
                                     and not text[1].isspace()):
        raise _CellError(f"starts with “{text[0]}” like a spreadsheet formula; prefix it with "
                         f"an apostrophe (') if it is meant as text")
    return text.strip()


def _time(value: Any) -> dt.datetime | None:
    if _blank(value):
        return None
    if isinstance(value, dt.datetime | dt.date):
        return parse_time(value)
    try:
        return parse_time(text_cell(value))
    except (ValueError, OverflowError, OSError):   # a Unix time beyond year 9999 overflows
        raise _CellError(f"“{value}” is not a date and time (use 2026-03-01T08:00:00Z)") \
            from None


def _indicators(text: str) -> list[tuple[str, str]]:
    found = []
    for item in re.split(r"[;\n]", text):
        item = item.strip()
        if not item:
            continue
        kind, sep, value = item.partition(":")
        if not sep or not value.strip():
            raise _CellError(f"“{item[:60]}” is not “type:value” (e.g. ipv4:203.0.113.7)")
        found.append((kind.strip().lower(), value.strip()))
    return found


def _row(number: int, header: list[str | None], cells: list[Any]) -> Record:
    values: dict[str, Any] = {}
    problems: list[str] = []
    for index, cell in enumerate(cells):
        field = header[index] if index < len(header) else None
        if field is None:
            if not _blank(cell):
                problems.append(f"column {column_letter(index)}: a value under no header")
            continue
        label = f"column {field} ({column_letter(index)})"
        if isinstance(cell, FormulaCell):
            problems.append(f"{label}: a formula ({str(cell.formula)[:40]}) is not imported; "
                            f"paste the values instead")
            continue
        try:
            values[field] = _value(field, cell)
        except _CellError as exc:
            problems.append(f"{label}: {exc}")
    if not values.get("title") and not problems:
        problems.append("column title: the title is empty")
    if problems:
        return Rejection(f"line {number}", "; ".join(problems))
    return ReportRecord(
        where=f"line {number}", source_format=NAME, title=values["title"],
        description=values.get("description", ""),
        external_id=values.get("stix_id") or None,
        category=values.get("category") or None, rsit=values.get("rsit") or None,
        tlp=values.get("tlp") or None, severity=values.get("severity") or None,
        started_at=values.get("started_at"), ended_at=values.get("ended_at"),
        detected_at=values.get("detected_at"),
        affected_services=values.get("affected_services", []),
        users_affected=values.get("users_affected"),
        alleged_origin_state=values.get("alleged_origin_state") or None,
        narrative_language=values.get("narrative_language") or "en",
        indicators=values.get("indicators", []),
    )


def _value(field: str, cell: Any) -> Any:
    if field in ("started_at", "ended_at", "detected_at"):
        return _time(cell)
    if field == "users_affected":
        if _blank(cell):
            return None
        if isinstance(cell, float) and cell.is_integer():
            cell = int(cell)
        text = str(cell).strip().replace(" ", "").replace("\u202f", "").replace("\xa0", "")
        # isascii: str.isdigit() accepts "²", which int() refuses; the length keeps int()
        # within its 4,300 digits and the number within the database's column.
        if not (text.isascii() and text.isdigit()) or len(text) > MAX_USERS_DIGITS:
            raise _CellError(f"“{str(cell)[:40]}” is not a whole number of users")
        return int(text)
    text = text_cell(cell)
    if field == "affected_services":
        return [s.strip() for s in text.split(";") if s.strip()]
    if field == "indicators":
        return _indicators(text)
    if field == "tlp" and text:
        tlp = text.lower().removeprefix("tlp:").strip()
        tlp = {"white": "clear"}.get(tlp, tlp)
        if tlp not in TLP:
            raise _CellError(f"“{text}” is not a TLP ({', '.join(TLP)})")
        return tlp
    if field == "severity" and text:
        if text.lower() not in SEVERITIES:
            raise _CellError(f"“{text}” is not a severity ({', '.join(SEVERITIES)})")
        return text.lower()
    if field == "alleged_origin_state" and text:
        if not re.fullmatch(r"[A-Za-z]{2}", text):
            raise _CellError(f"“{text}” is not a two-letter ISO country code")
        return text.upper()
    return text


# -- XLSX ----------------------------------------------------------------------------------

def sniff_xlsx(head: bytes, name: str = "") -> bool:
    return head.startswith(b"PK\x03\x04") and (
        name.lower().endswith(".xlsx") or b"xl/" in head[:4096] or b"[Content_Types]" in head)


def parse_xlsx(stream: BinaryIO, *, name: str = "") -> Iterator[Record]:
    """Rows of the first sheet, read by openpyxl in read-only (streaming) mode. openpyxl uses
    defusedxml when installed (it is a dependency), so the sheet XML cannot carry entities."""
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    seekable = stream
    if not (hasattr(stream, "seekable") and stream.seekable()):
        seekable = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)   # noqa: SIM115
        while chunk := stream.read(1024 * 1024):
            seekable.write(chunk)
        seekable.seek(0)
    _check_zip(seekable)
    try:
        workbook = load_workbook(seekable, read_only=True, data_only=False)
    except (InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise FormatError(f"XLSX: not a readable workbook ({exc})") from None
    except Exception as exc:   # zipfile.BadZipFile and parser errors of a corrupt archive
        raise FormatError(f"XLSX: not a readable workbook ({type(exc).__name__})") from None
    try:
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()   # rows as written, not padded to the declared dimension
        yield from rows(_numbered(sheet))
    finally:
        workbook.close()


def _check_zip(stream: BinaryIO) -> None:
    """Refuse a zip bomb from the zip's directory alone, naming the largest member."""
    try:
        with zipfile.ZipFile(stream) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        raise FormatError(f"XLSX: not a readable workbook ({exc})") from None
    finally:
        stream.seek(0)
    if len(infos) > MAX_XLSX_MEMBERS:
        raise FormatError(f"XLSX: {len(infos)} files in the workbook; more than "
                          f"{MAX_XLSX_MEMBERS} are refused")
    total = sum(info.file_size for info in infos)
    if total > MAX_XLSX_INFLATED:
        largest = max(infos, key=lambda info: info.file_size)
        raise FormatError(f"XLSX: the workbook inflates to {total} bytes ({largest.filename} "
                          f"alone to {largest.file_size} bytes); more than {MAX_XLSX_INFLATED} "
                          f"bytes are refused")


def _numbered(sheet: Any) -> Iterator[tuple[int, list[Any]]]:
    """(line, cells) of the sheet; a sheet openpyxl cannot read is a FormatError naming the
    last line read, not its own exception (XML errors, bad cell references, CRC errors)."""
    rows_read = iter(sheet.iter_rows())
    number = 0
    while True:
        try:
            row = next(rows_read)
        except StopIteration:
            return
        except Exception as exc:   # noqa: BLE001 - openpyxl and expat errors have no common base
            raise FormatError(f"XLSX: the sheet cannot be read after line {number} "
                              f"({type(exc).__name__}: {str(exc)[:120]})") from None
        number += 1
        if number > MAX_XLSX_ROWS:
            raise FormatError(f"XLSX: more than {MAX_XLSX_ROWS} lines")
        if len(row) > MAX_XLSX_COLUMNS:
            raise FormatError(f"XLSX: line {number} has a cell in column "
                              f"{column_letter(len(row) - 1)}; more than {MAX_XLSX_COLUMNS} "
                              f"columns are refused")
        yield number, [FormulaCell(c.value) if getattr(c, "data_type", None) == "f"
                       else c.value for c in row]


class FormulaCell:
    """An XLSX cell holding a formula (openpyxl data_type "f"), refused by _row."""

    def __init__(self, formula: Any):
        self.formula = formula
