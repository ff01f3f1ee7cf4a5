"""Text from outside shown as text (app/display.py) and downloads safe to open in a
spreadsheet (app/exports.py)."""

from __future__ import annotations

import io
import re

import pandas as pd
import pytest

from app.display import ZWSP, plain, plotly_text
from app.exports import csv_bytes, neutralise_formulas

HOSTILE = [
    "[x](https://evil)",
    "<img src=x onerror=alert(1)>",
    "**bold**",
    "$x$",
    "[Session expired: sign in again](https://evil.example/login)",
    "`code` ~~gone~~ __under__ # heading",
    "- a list item",
    "visit www.evil.example or https://evil.example or me@evil.example",
    ":red[coloured] :material/home: :smile:",
]


def shown(markdown: str) -> str:
    """What Markdown shows for text that only uses backslash escapes (and zero-width spaces)."""
    return re.sub(r"\\(.)", r"\1", markdown).replace(ZWSP, "")


def assert_inert(markdown: str) -> None:
    """No construct can start: every special character is escaped, no URL stays whole."""
    unescaped = re.sub(r"\\.", "", markdown)
    assert not re.search(r"[\[\]<>*$`~|#&{}]", unescaped), markdown
    assert "://" not in markdown and "www." not in markdown.lower() and "@" + "evil" not in markdown
    assert not re.search(r":[A-Za-z]", markdown.replace(":" + ZWSP, "")), markdown


@pytest.mark.parametrize("value", HOSTILE)
def test_plain_shows_every_character_and_starts_no_construct(value):
    markdown = plain(value)
    assert shown(markdown) == value
    assert_inert(markdown)


def test_plain_leaves_ordinary_sentences_alone():
    sentence = "Setting VERTICALS_CACHE_TTL='-5' is invalid: cache_ttl must be greater than 0 (10:00, 50%)."
    assert plain(sentence) == sentence


def test_plain_keeps_one_line_and_a_bounded_length():
    assert plain("a\n\n# b\n") == r"a \# b"
    assert len(plain("x" * 10_000)) == 2000


def test_plotly_text_shows_tags():
    assert (
        plotly_text('<a href="https://evil">x</a><br>')
        == '&lt;a href="https://evil"&gt;x&lt;/a&gt;&lt;br&gt;'
    )


def test_csv_neutralises_text_formulas_and_keeps_numbers_numeric():
    frame = pd.DataFrame(
        {
            "note": ['=HYPERLINK("https://evil","x")', "+1", "-2", "@SUM(A1)", "\tx", "\rx", "fine", None],
            "amount": [-5, 3, -1, 0, 1, 2, 3, 4],
            "ratio": [-0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
            "=cmd": ["a"] * 8,
        }
    )
    back = pd.read_csv(io.BytesIO(csv_bytes(frame)), keep_default_na=False)
    assert back["note"].tolist() == [
        '\'=HYPERLINK("https://evil","x")',
        "'+1",
        "'-2",
        "'@SUM(A1)",
        "'\tx",
        "'\rx",
        "fine",
        "",
    ]
    assert back["amount"].tolist() == [-5, 3, -1, 0, 1, 2, 3, 4]  # numbers stay numbers
    assert back["ratio"].iloc[0] == -0.5
    assert "'=cmd" in back.columns


def test_neutralise_leaves_the_original_frame_alone():
    frame = pd.DataFrame({"a": ["=1"]})
    assert neutralise_formulas(frame)["a"].iloc[0] == "'=1" and frame["a"].iloc[0] == "=1"
