"""Text that comes from outside the code (a URL, the lake, an event, an exception about
them) shown as text: never as Markdown, HTML, LaTeX or a link.

Streamlit renders the body of ``st.markdown``, ``st.caption``, ``st.info``, ``st.warning``,
``st.error``, ``st.success`` and widget labels as GitHub-flavoured Markdown with LaTeX and
its own directives (``:red[...]``, ``:material/icon:``). :func:`plain` backslash-escapes
the characters that open those (``[ ] < > * _ ` $ ~ | # & { }`` and a list marker at the
start), and puts a zero-width space into ``https://``, ``www.``, ``@`` and ``:name``,
which are matched after the Markdown is parsed: ``[x](https://evil)`` shows as those
characters and no bare URL becomes a link. Letters, digits, spaces and the punctuation of
ordinary sentences stay as they are: a message keeps its words.

Plotly reads a subset of HTML in titles, labels and hover text: :func:`plotly_text`
escapes it there.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pandas as pd

# Characters that open Markdown or Streamlit constructs wherever they stand.
_ALWAYS = re.compile(r"([\\`*~\[\]<>$|#&{}])")
# An underscore emphasises only at a word's edge (snake_case names stay readable).
_EDGE_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
# GFM links bare URLs, www. names and e-mail addresses, and Streamlit reads :name: as an
# emoji, an icon or a colour, after the Markdown is parsed (a backslash is gone by then):
# a zero-width space breaks each pattern without changing what is shown.
ZWSP = "\u200b"
_WWW = re.compile(r"(?i)\b(www)\.")
_BARE = re.compile(r"(:(?=[A-Za-z/])|@)")  # also the colon of https://
# A line that starts like a list, a heading or a quote.
_LINE_START = re.compile(r"^(\s*)([-+=]|\d+[.)])")
MAX_CHARS = 2000


def plain(value: Any, max_chars: int = MAX_CHARS) -> str:
    """``value`` as one line of text that Streamlit's Markdown shows as it is."""
    text = " ".join(str(value).split())
    if len(text) > max_chars:
        text = text[: max_chars - 1] + "…"
    text = _ALWAYS.sub(r"\\\1", text)
    text = _EDGE_UNDERSCORE.sub(r"\\_", text)
    text = _WWW.sub(r"\1" + ZWSP + ".", text)
    text = _BARE.sub(r"\1" + ZWSP, text)
    return _LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), text)


def plotly_text(value: Any) -> str:
    """``value`` for a Plotly title, label or hover: its tags shown, not applied."""
    return html.escape(str(value), quote=False)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def terminal_text(value: Any) -> str:
    """``value`` for a terminal: control characters spelled ``\\xNN`` (a lake value with
    ESC or BEL could otherwise recolour the terminal or set its title)."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(value))


def plotly_frame(frame: pd.DataFrame, *columns: str, index: bool = False) -> pd.DataFrame:
    """``frame`` with the text of ``columns`` (and of its index) made :func:`plotly_text`,
    before a chart is built from it: Plotly Express writes a category into the trace's
    name, its legend and its hover template, and Plotly applies the tags there (a lake's
    source ``<a href=…>`` became a link in a legend)."""
    shown = frame.assign(**{c: frame[c].map(plotly_text) for c in columns})
    if index:
        shown.index = shown.index.map(plotly_text)
    return shown


# Each department's colour on every chart, so that a department looks the same on every page
# (Plotly's colour-blind-safe "Safe" palette, in the departments' order).
SAFE_PALETTE = (
    "rgb(136, 204, 238)",
    "rgb(204, 102, 119)",
    "rgb(221, 204, 119)",
    "rgb(17, 119, 51)",
    "rgb(51, 34, 136)",
    "rgb(170, 68, 153)",
    "rgb(68, 170, 153)",
    "rgb(153, 153, 51)",
)


def department_colours() -> dict[str, str]:
    """Department name -> its colour (a chart's ``color_discrete_map``)."""
    from app.departments import DEPARTMENTS

    return dict(zip((d.name for d in DEPARTMENTS), SAFE_PALETTE, strict=True))
