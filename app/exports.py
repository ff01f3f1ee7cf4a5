"""Files users download (CSV, and any spreadsheet export), safe to open in a spreadsheet.

A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a
formula to Excel, LibreOffice and Google Sheets (OWASP "CSV injection"): a value from an
event such as ``=HYPERLINK("https://evil", "click")`` would run when the file is opened.
:func:`neutralise_formulas` prefixes such text cells (and column names) with a single
quote, which spreadsheets show as text. Numbers stay numbers: ``-5`` in a numeric column
is left alone, so sums and charts in the spreadsheet still work.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """A text value that a spreadsheet would read as a formula, made text; anything else as is."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells and column names cannot start a formula."""
    safe = frame.copy()
    for column in safe.columns:
        series = safe[column]
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_datetime64_any_dtype(series):
            continue
        safe[column] = series.map(neutralise, na_action="ignore")
    safe.columns = [neutralise(str(c)) if isinstance(c, str) else c for c in safe.columns]
    return safe


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """``frame`` as UTF-8 CSV without its index, formulas neutralised. Lines end in CRLF
    (RFC 4180), so a field holding a carriage return or a newline is quoted."""
    return neutralise_formulas(frame).to_csv(index=False, lineterminator="\r\n").encode("utf-8")
