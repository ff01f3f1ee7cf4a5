"""The event-pattern language (app/bus/patterns/) against EventBridge's own behaviour.

Golden cases come from shared/testdata/eventbridge (read in place, never copied); the
tables below cover what they do not: each operator family's edges, Python-side typing
traps, hostile inputs, and PatternIndex answering exactly as brute force does.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest

from app.bus.patterns import (
    MAX_OR_COMBINATIONS,
    MAX_PATTERN_SIZE,
    InvalidEventPatternException,
    Pattern,
    PatternIndex,
    _EventView,  # to count the patterns an event actually tries
    compile_pattern,
)

# ---------------------------------------------------------------------------
# Golden data
# ---------------------------------------------------------------------------


def _testdata_dir() -> Path:
    override = os.environ.get("VERTICALS_TESTDATA")
    if override:
        return Path(override)
    # The repository's parent holds shared/ (CI puts a copy beside its clone).
    return Path(__file__).resolve().parents[2] / ".." / "shared" / "testdata" / "eventbridge"


GOLDEN = _testdata_dir()
MISSING_REASON = (
    f"golden EventBridge pattern data not found at {GOLDEN} (set VERTICALS_TESTDATA to its folder)"
)


def _require_golden() -> None:
    if os.environ.get("CI"):
        pytest.fail(MISSING_REASON)
    pytest.skip(MISSING_REASON)


def _golden_params(file_name: str) -> list:
    path = GOLDEN / file_name
    if not path.is_file():
        return [pytest.param(None, id=f"{file_name}-missing")]
    with path.open(encoding="utf-8") as lines:
        cases = [json.loads(line) for line in lines if line.strip()]
    return [pytest.param(case, id=case["id"]) for case in cases]


def _expected(case: dict) -> bool:
    # A few cases are undocumented for EventBridge (match: null); the data says to follow
    # event-ruler there, which is the engine behind EventBridge.
    return case["match"] if case["match"] is not None else case["event_ruler_match"]


@pytest.mark.parametrize("case", _golden_params("match_cases.jsonl"))
def test_golden_match_case(case):
    if case is None:
        _require_golden()
    pattern = compile_pattern(case["pattern"])
    assert pattern.matches(case["event"]) is _expected(case)
    # Same answer with the pattern and the event given as JSON text.
    from_text = compile_pattern(json.dumps(case["pattern"]))
    assert from_text.matches_json(json.dumps(case["event"])) is _expected(case)


@pytest.mark.parametrize("case", _golden_params("invalid_patterns.jsonl"))
def test_golden_invalid_pattern(case):
    if case is None:
        _require_golden()
    sources = [case["pattern_raw"]] + ([case["pattern"]] if case["pattern"] is not None else [])
    for source in sources:
        with pytest.raises(InvalidEventPatternException) as raised:
            compile_pattern(source)
        assert raised.value.code == "InvalidEventPatternException"
        assert raised.value.message.startswith("Event pattern is not valid. Reason: ")


@pytest.mark.parametrize("case", _golden_params("raw_cases.jsonl"))
def test_golden_raw_case(case):
    if case is None:
        _require_golden()
    pattern = compile_pattern(case["pattern_raw"])
    assert pattern.matches_json(case["event_raw"]) is _expected(case)


def test_golden_big_event():
    path = GOLDEN / "big_event_case.json"
    if not path.is_file():
        _require_golden()
    case = json.loads(path.read_text(encoding="utf-8"))
    pattern = compile_pattern(case["pattern"])
    assert pattern.matches(case["event"]) is case["match"]  # how fast: bench/bench_pattern_limits.py
    assert pattern.matches_json(json.dumps(case["event"])) is case["match"]


def _golden_cases(file_name: str) -> list[dict]:
    return [param.values[0] for param in _golden_params(file_name) if param.values[0] is not None]


def test_golden_index_answers_as_brute_force():
    cases = _golden_cases("match_cases.jsonl")
    if not cases:
        _require_golden()
    rules = [(case["id"], compile_pattern(case["pattern"])) for case in cases]
    index = PatternIndex(rules)
    for case in cases:
        brute = [name for name, pattern in rules if pattern.matches(case["event"])]
        assert index.match(case["event"]) == brute, case["id"]
        assert (case["id"] in brute) is _expected(case)


# ---------------------------------------------------------------------------
# Operator families, beyond the golden data: (pattern, event, expected)
# ---------------------------------------------------------------------------

MATCH_TABLE = [
    # exact values and JSON types
    ("exact-string", {"a": ["x"]}, {"a": "x"}, True),
    ("exact-string-case", {"a": ["x"]}, {"a": "X"}, False),
    ("exact-number-int-float", {"a": [5]}, {"a": 5.0}, True),
    ("exact-number-float-int", {"a": [5.0]}, {"a": 5}, True),
    ("exact-number-vs-string", {"a": [5]}, {"a": "5"}, False),
    ("exact-string-vs-number", {"a": ["5"]}, {"a": 5}, False),
    ("exact-true-vs-1", {"a": [True]}, {"a": 1}, False),
    ("exact-1-vs-true", {"a": [1]}, {"a": True}, False),
    ("exact-0-vs-false", {"a": [0]}, {"a": False}, False),
    ("exact-null", {"a": [None]}, {"a": None}, True),
    ("exact-null-vs-missing", {"a": [None]}, {}, False),
    ("exact-null-vs-false", {"a": [None]}, {"a": False}, False),
    ("exact-empty-string", {"a": [""]}, {"a": ""}, True),
    ("exact-empty-string-vs-null", {"a": [""]}, {"a": None}, False),
    ("exact-big-int-as-double", {"a": [9007199254740993]}, {"a": 9007199254740992}, True),
    ("exact-negative-zero", {"a": [0]}, {"a": -0.0}, True),
    ("exact-object-is-not-a-leaf", {"a": ["x"]}, {"a": {"b": "x"}}, False),
    ("exact-any-of-array", {"a": ["x"]}, {"a": ["y", "x"]}, True),
    ("exact-nested-arrays", {"a": ["x"]}, {"a": [["y"], ["x"]]}, True),
    ("exact-empty-array", {"a": ["x"]}, {"a": []}, False),
    ("exactly-operator", {"a": [{"exactly": "x"}]}, {"a": "x"}, True),
    ("exact-ip-other-spelling", {"ip": ["2001:db8::1"]}, {"ip": "2001:DB8:0:0:0:0:0:1"}, True),
    ("exact-ipv4-mapped", {"ip": ["10.0.0.1"]}, {"ip": "::ffff:a00:1"}, True),
    ("exact-ip-different", {"ip": ["10.0.0.1"]}, {"ip": "10.0.0.2"}, False),
    # prefix / suffix
    ("prefix", {"a": [{"prefix": "ab"}]}, {"a": "abc"}, True),
    ("prefix-miss", {"a": [{"prefix": "ab"}]}, {"a": "xabc"}, False),
    ("prefix-empty-any-string", {"a": [{"prefix": ""}]}, {"a": ""}, True),
    ("prefix-empty-not-number", {"a": [{"prefix": ""}]}, {"a": 5}, False),
    ("prefix-not-null", {"a": [{"prefix": "n"}]}, {"a": None}, False),
    ("suffix", {"a": [{"suffix": ".png"}]}, {"a": "x.png"}, True),
    ("suffix-case", {"a": [{"suffix": ".png"}]}, {"a": "x.PNG"}, False),
    ("suffix-number-text", {"a": [{"suffix": "5"}]}, {"a": 15}, False),
    ("prefix-ignore-case", {"a": [{"prefix": {"equals-ignore-case": "EventB"}}]}, {"a": "eVENTbridge"}, True),
    ("suffix-ignore-case", {"a": [{"suffix": {"equals-ignore-case": ".PNG"}}]}, {"a": "x.png"}, True),
    ("suffix-ignore-case-short", {"a": [{"suffix": {"equals-ignore-case": ".PNG"}}]}, {"a": "png"}, False),
    # equals-ignore-case, with Java's per-character case rules
    ("ignore-case", {"a": [{"equals-ignore-case": "aBc"}]}, {"a": "ABC"}, True),
    ("ignore-case-length", {"a": [{"equals-ignore-case": "abc"}]}, {"a": "abcd"}, False),
    ("ignore-case-kelvin-sign", {"a": [{"equals-ignore-case": "k"}]}, {"a": "\u212a"}, False),
    ("ignore-case-sharp-s-upper", {"a": [{"equals-ignore-case": "stra\u00dfe"}]}, {"a": "STRASSE"}, True),
    ("ignore-case-sharp-s-lower", {"a": [{"equals-ignore-case": "STRASSE"}]}, {"a": "stra\u00dfe"}, False),
    ("ignore-case-greek", {"a": [{"equals-ignore-case": "\u03a3\u03b1"}]}, {"a": "\u03c3\u0391"}, True),
    ("ignore-case-emoji", {"a": [{"equals-ignore-case": "a\U0001f600"}]}, {"a": "A\U0001f600"}, True),
    ("ignore-case-not-number", {"a": [{"equals-ignore-case": "5"}]}, {"a": 5}, False),
    # wildcard
    ("wildcard-star-any", {"a": [{"wildcard": "*"}]}, {"a": ""}, True),
    ("wildcard-star-not-number", {"a": [{"wildcard": "*"}]}, {"a": 5}, False),
    ("wildcard-empty-only-empty", {"a": [{"wildcard": ""}]}, {"a": "x"}, False),
    ("wildcard-middle", {"a": [{"wildcard": "a*c*e"}]}, {"a": "abcde"}, True),
    ("wildcard-order", {"a": [{"wildcard": "a*c*e"}]}, {"a": "aecxe"}, True),
    ("wildcard-overlap", {"a": [{"wildcard": "ab*ba"}]}, {"a": "aba"}, False),
    ("wildcard-escaped-star", {"a": [{"wildcard": "a\\*"}]}, {"a": "a*"}, True),
    ("wildcard-escaped-star-literal", {"a": [{"wildcard": "a\\*"}]}, {"a": "ab"}, False),
    ("wildcard-escaped-backslash", {"a": [{"wildcard": "a\\\\*"}]}, {"a": "a\\xyz"}, True),
    ("wildcard-unicode", {"a": [{"wildcard": "\u00e9*\u00e9"}]}, {"a": "\u00e9t\u00e9"}, True),
    # anything-but
    ("anything-but-string", {"a": [{"anything-but": "x"}]}, {"a": "y"}, True),
    ("anything-but-string-hit", {"a": [{"anything-but": "x"}]}, {"a": "x"}, False),
    ("anything-but-null", {"a": [{"anything-but": "x"}]}, {"a": None}, True),
    ("anything-but-other-type", {"a": [{"anything-but": "5"}]}, {"a": 5}, True),
    ("anything-but-missing", {"a": [{"anything-but": "x"}]}, {}, False),
    ("anything-but-object", {"a": [{"anything-but": "x"}]}, {"a": {"b": "y"}}, False),
    ("anything-but-number-equal", {"a": [{"anything-but": 5}]}, {"a": 5.0}, False),
    ("anything-but-number-string", {"a": [{"anything-but": [5, 6]}]}, {"a": "5"}, True),
    ("anything-but-bool", {"a": [{"anything-but": [5]}]}, {"a": True}, True),
    ("anything-but-array-any", {"a": [{"anything-but": ["x"]}]}, {"a": ["x", "y"]}, True),
    ("anything-but-array-all", {"a": [{"anything-but": ["x"]}]}, {"a": ["x", "x"]}, False),
    ("anything-but-prefix", {"a": [{"anything-but": {"prefix": "us-"}}]}, {"a": "eu-west-1"}, True),
    ("anything-but-prefix-number", {"a": [{"anything-but": {"prefix": "1"}}]}, {"a": 12}, True),
    ("anything-but-suffix-list", {"a": [{"anything-but": {"suffix": [".a", ".b"]}}]}, {"a": "x.b"}, False),
    ("anything-but-ignore-case", {"a": [{"anything-but": {"equals-ignore-case": "No"}}]}, {"a": "NO"}, False),
    ("anything-but-wildcard", {"a": [{"anything-but": {"wildcard": "*/lib/*"}}]}, {"a": "/usr/bin/x"}, True),
    (
        "anything-but-two-alternatives",
        {"a": [{"anything-but": "x"}, {"anything-but": "y"}]},
        {"a": "y"},
        True,
    ),
    # numeric
    ("numeric-equals-float", {"a": [{"numeric": ["=", 5]}]}, {"a": 5.0}, True),
    ("numeric-not-string", {"a": [{"numeric": [">", 0]}]}, {"a": "5"}, False),
    ("numeric-not-bool", {"a": [{"numeric": [">", 0]}]}, {"a": True}, False),
    ("numeric-not-null", {"a": [{"numeric": ["<", 0]}]}, {"a": None}, False),
    ("numeric-open-bounds", {"a": [{"numeric": [">", 0, "<", 1]}]}, {"a": 1}, False),
    ("numeric-closed-bounds", {"a": [{"numeric": [">=", 0, "<=", 1]}]}, {"a": 1}, True),
    ("numeric-negative", {"a": [{"numeric": ["<", -1.5]}]}, {"a": -2}, True),
    ("numeric-exponent", {"a": [{"numeric": ["=", 3.018e2]}]}, {"a": 301.8}, True),
    ("numeric-beyond-five-billion", {"a": [{"numeric": [">", 5e9]}]}, {"a": 6e9}, True),
    ("numeric-tiny", {"a": [{"numeric": [">", 0]}]}, {"a": 1e-7}, True),
    ("numeric-array-any", {"a": [{"numeric": [">", 10]}]}, {"a": [1, 20]}, True),
    ("numeric-huge-int", {"a": [{"numeric": [">", 0]}]}, {"a": 10**400}, False),
    # exists
    ("exists-true", {"a": [{"exists": True}]}, {"a": "x"}, True),
    ("exists-true-null", {"a": [{"exists": True}]}, {"a": None}, True),
    ("exists-true-object", {"a": [{"exists": True}]}, {"a": {"b": 1}}, False),
    ("exists-true-empty-array", {"a": [{"exists": True}]}, {"a": []}, False),
    ("exists-true-empty-string", {"a": [{"exists": True}]}, {"a": ""}, True),
    ("exists-false-missing", {"a": [{"exists": False}]}, {"b": 1}, True),
    ("exists-false-present", {"a": [{"exists": False}]}, {"a": None}, False),
    ("exists-false-object", {"a": [{"exists": False}]}, {"a": {"b": 1}}, True),
    ("exists-false-empty-event", {"a": [{"exists": False}]}, {}, True),
    ("exists-false-or-value", {"a": ["x", {"exists": False}]}, {"a": "x"}, True),
    ("exists-false-or-value-miss", {"a": ["x", {"exists": False}]}, {"a": "y"}, False),
    # cidr
    ("cidr-v4", {"ip": [{"cidr": "10.0.0.0/8"}]}, {"ip": "10.255.0.1"}, True),
    ("cidr-v4-miss", {"ip": [{"cidr": "10.0.0.0/8"}]}, {"ip": "11.0.0.1"}, False),
    ("cidr-v4-32", {"ip": [{"cidr": "10.0.0.1/32"}]}, {"ip": "10.0.0.1"}, True),
    ("cidr-v4-0", {"ip": [{"cidr": "0.0.0.0/0"}]}, {"ip": "203.0.113.9"}, True),
    ("cidr-v4-not-v6", {"ip": [{"cidr": "0.0.0.0/0"}]}, {"ip": "::1"}, False),
    ("cidr-v6", {"ip": [{"cidr": "2001:db8::/32"}]}, {"ip": "2001:0DB8:ffff::1"}, True),
    ("cidr-not-an-ip", {"ip": [{"cidr": "10.0.0.0/8"}]}, {"ip": "10.0.0"}, False),
    ("cidr-leading-zero", {"ip": [{"cidr": "10.0.0.0/8"}]}, {"ip": "10.0.0.01"}, False),
    ("cidr-not-number", {"ip": [{"cidr": "10.0.0.0/8"}]}, {"ip": 10}, False),
    # $or
    ("or-first", {"$or": [{"a": ["1"]}, {"b": ["2"]}]}, {"a": "1"}, True),
    ("or-none", {"$or": [{"a": ["1"]}, {"b": ["2"]}]}, {"a": "2", "b": "1"}, False),
    (
        "or-nested",
        {"a": ["1"], "$or": [{"b": ["2"]}, {"$or": [{"c": ["3"]}, {"d": ["4"]}]}]},
        {"a": "1", "d": "4"},
        True,
    ),
    ("or-inside-object", {"x": {"$or": [{"a": ["1"]}, {"b": ["2"]}]}}, {"x": {"b": "2"}}, True),
    ("or-branch-overrides-field", {"a": ["1"], "$or": [{"a": ["2"]}, {"b": ["3"]}]}, {"a": "2"}, True),
    ("or-field-after-overrides-branch", {"$or": [{"a": ["2"]}, {"b": ["3"]}], "a": ["1"]}, {"a": "2"}, False),
    # arrays of objects: fields must come from one element (event-ruler)
    ("array-same-element", {"r": {"k": ["a"], "v": ["1"]}}, {"r": [{"k": "a", "v": "1"}]}, True),
    ("array-split-elements", {"r": {"k": ["a"], "v": ["1"]}}, {"r": [{"k": "a"}, {"v": "1"}]}, False),
    (
        "array-independent-arrays",
        {"r": {"k": ["a"]}, "s": {"v": ["1"]}},
        {"r": [{"k": "b"}, {"k": "a"}], "s": [{"v": "1"}]},
        True,
    ),
    (
        "array-outer-consistent",
        {"o": {"i": {"k": ["a"], "v": ["1"]}}},
        {"o": [{"i": [{"k": "a"}]}, {"i": [{"v": "1"}]}]},
        False,
    ),
    (
        "array-scalar-list-with-object",
        {"r": {"k": ["a"]}, "t": ["x"]},
        {"r": [{"k": "a"}], "t": ["y", "x"]},
        True,
    ),
    (
        "array-exists-false-per-element",
        {"r": {"k": ["a"], "z": [{"exists": False}]}},
        {"r": [{"k": "a", "z": 1}, {"k": "a"}]},
        True,
    ),
    # exists:false is judged against the fields chosen so far, in path order ("r.a" < "r.z")
    (
        "array-exists-false-before-choice",
        {"r": {"a": [{"exists": False}], "z": ["1"]}},
        {"r": [{"a": 1, "z": "0"}, {"z": "1"}]},
        False,
    ),
    (
        "array-exists-false-after-choice",
        {"r": {"a": ["1"], "z": [{"exists": False}]}},
        {"r": [{"a": "1"}, {"a": "0", "z": 1}]},
        True,
    ),
    # dotted keys: the pattern's and the event's dots are the same as nesting
    ("dotted-pattern-key", {"a.b": ["x"]}, {"a": {"b": "x"}}, True),
    ("dotted-event-key", {"a": {"b": ["x"]}}, {"a.b": "x"}, True),
    ("dotted-both", {"a.b": {"c": ["x"]}}, {"a": {"b.c": "x"}}, True),
    ("dotted-miss", {"a": {"b": ["x"]}}, {"ab": "x"}, False),
    ("empty-key", {"": ["x"]}, {"": "x"}, True),
]


@pytest.mark.parametrize(
    "pattern, event, expected", [pytest.param(p, e, x, id=i) for i, p, e, x in MATCH_TABLE]
)
def test_operator_table(pattern, event, expected):
    compiled = compile_pattern(pattern)
    assert compiled.matches(event) is expected
    assert PatternIndex([("rule", compiled)]).match(event) == (["rule"] if expected else [])


RAW_TABLE = [
    ("duplicate-pattern-key-last-wins", '{"a": ["x"], "a": ["y"]}', '{"a": "y"}', True),
    ("duplicate-pattern-key-first-loses", '{"a": ["x"], "a": ["y"]}', '{"a": "x"}', False),
    ("duplicate-objects-both-count", '{"d": {"a": ["1"]}, "d": {"b": ["2"]}}', '{"d": {"a": "1"}}', False),
    ("duplicate-event-key-last-wins", '{"a": ["x"]}', '{"a": "x", "a": "y"}', False),
    ("number-spelling", '{"a": [100]}', '{"a": 1e2}', True),
    ("number-spelling-numeric", '{"a": [{"numeric": ["=", 1E2]}]}', '{"a": 100.000}', True),
    ("number-beyond-double-text", '{"a": [1e400]}', '{"a": 1e400}', True),
    ("number-beyond-double-other-text", '{"a": [1e400]}', '{"a": 2e400}', False),
    ("number-beyond-double-anything-but", '{"a": [{"anything-but": [1]}]}', '{"a": 1e400}', True),
    ("unicode-escapes", '{"a": ["\\u00e9"]}', '{"a": "\u00e9"}', True),
]


@pytest.mark.parametrize(
    "pattern, event, expected", [pytest.param(p, e, x, id=i) for i, p, e, x in RAW_TABLE]
)
def test_raw_text_table(pattern, event, expected):
    assert compile_pattern(pattern).matches_json(event) is expected


# ---------------------------------------------------------------------------
# Invalid patterns, beyond the golden data: (pattern, words the reason must contain)
# ---------------------------------------------------------------------------

INVALID_TABLE = [
    ("empty-pattern", {}, "Empty objects"),
    ("string-pattern", '"source"', "Filter is not an object"),
    ("null-pattern", "null", "Filter is not an object"),
    ("not-json", "{source: [x]}", "Unexpected character ('s' (code 115)): was expecting double-quote"),
    ("trailing-garbage", '{"a": ["x"]} x', "Unexpected character ('x' (code 120))"),
    ("nan", '{"a": [NaN]}', "Non-standard token 'NaN'"),
    ("bare-word", "this is valid json but not a dict", "Unrecognized token 'this': was expecting"),
    ("unclosed", '{"not": closed mark"', "Unrecognized token 'closed'"),
    ("python-nan", {"a": [float("nan")]}, "not JSON"),
    ("python-tuple", {"a": ("x",)}, "tuple"),
    ("python-int-key", {1: ["x"]}, "keys must be strings"),
    ("nested-array-value", {"a": [["x"]]}, "Match value must be String"),
    ("empty-match-expression", {"a": [{}]}, "Match expression name not found"),
    ("unknown-operator", {"a": [{"regex": "x"}]}, 'Unrecognized match type regex at "a"'),
    ("operator-case-sensitive", {"a": [{"Prefix": "x"}]}, "Unrecognized match type Prefix"),
    ("two-operators", {"a": [{"prefix": "x", "suffix": "y"}]}, "Only one key"),
    (
        "equals-ignore-case-number",
        {"a": [{"equals-ignore-case": 1}]},
        "equals-ignore-case match pattern must be a string",
    ),
    ("exists-null", {"a": [{"exists": None}]}, "either true or false"),
    ("cidr-number", {"a": [{"cidr": 10}]}, "cidr match pattern must be a string"),
    ("cidr-mask-too-big", {"a": [{"cidr": "10.0.0.0/33"}]}, "mask bits"),
    ("cidr-v6-mask-too-big", {"a": [{"cidr": "::/129"}]}, "mask bits"),
    ("cidr-mask-not-integer", {"a": [{"cidr": "10.0.0.0/x"}]}, "mask bits must be an integer"),
    ("cidr-negative-mask", {"a": [{"cidr": "10.0.0.0/-1"}]}, "must not be negative"),
    ("cidr-bad-address", {"a": [{"cidr": "10.0.0.256/8"}]}, "Invalid IP address"),
    ("cidr-hostname", {"a": [{"cidr": "example.com/8"}]}, "Invalid IP address"),
    ("numeric-empty", {"a": [{"numeric": []}]}, "Invalid member in numeric match"),
    ("numeric-not-array", {"a": [{"numeric": 5}]}, "must be an array"),
    ("numeric-string-operand", {"a": [{"numeric": [">", "5"]}]}, "Value of > must be numeric"),
    ("numeric-bool-operand", {"a": [{"numeric": ["<=", False]}]}, "Value of <= must be numeric"),
    ("numeric-equal-bounds", {"a": [{"numeric": [">=", 1, "<=", 1]}]}, "Bottom must be less than top"),
    ("numeric-wrong-upper-operator", {"a": [{"numeric": [">", 1, ">", 2]}]}, "Bad numeric range operator"),
    ("numeric-huge-int", {"a": [{"numeric": [">", 10**400]}]}, "Cannot compare number"),
    ("anything-but-null", {"a": [{"anything-but": None}]}, "single string/number"),
    ("anything-but-empty-list", {"a": [{"anything-but": []}]}, "all values are number or string"),
    ("anything-but-nested-list", {"a": [{"anything-but": [["x"]]}]}, "start|null|boolean"),
    ("anything-but-bool-list", {"a": [{"anything-but": [True]}]}, "start|null|boolean"),
    (
        "anything-but-exists",
        {"a": [{"anything-but": {"exists": True}}]},
        "Unsupported anything-but pattern: exists",
    ),
    ("anything-but-empty-set", {"a": [{"anything-but": {"prefix": []}}]}, "Empty arrays"),
    ("anything-but-wildcard-bad", {"a": [{"anything-but": {"wildcard": "a**"}}]}, "Consecutive wildcard"),
    ("wildcard-trailing-backslash", {"a": [{"wildcard": "ab\\"}]}, "Invalid escape character at pos 3"),
    ("wildcard-bad-escape", {"a": [{"wildcard": "a\\b"}]}, "Invalid escape character at pos 2"),
    (
        "wildcard-consecutive-after-escape",
        {"a": [{"wildcard": "\\\\**"}]},
        "Consecutive wildcard characters at pos 3",
    ),
    ("wildcard-too-complex", {"a": [{"wildcard": "*a*a*a*a*a*a*a*a*a*"}]}, "Rule is too complex"),
    (
        "wildcard-too-complex-together",
        {"a": [{"wildcard": f"*:stack/{name}/*"} for name in ("one", "two", "three", "four")]},
        "Rule is too complex",
    ),
    ("or-not-array", {"$or": {"a": ["1"]}}, "It must be an Array"),
    ("or-empty", {"$or": []}, "at least 2 Objects"),
    ("or-reserved-name", {"$or": [{"numeric": ["1"]}, {"b": ["2"]}]}, "reserved fieldName"),
    ("or-reserved-name-deep", {"$or": [{"x": {"prefix": ["1"]}}, {"b": ["2"]}]}, "reserved fieldName"),
    ("or-empty-branch", {"$or": [{}, {"b": ["2"]}]}, "Empty objects"),
    ("value-not-array", {"a": "x"}, '"a" must be an object or an array'),
    ("value-number", {"a": {"b": 1}}, '"b" must be an object or an array'),
    ("too-large", {"a": ["x" * MAX_PATTERN_SIZE]}, "characters long"),
]


@pytest.mark.parametrize("pattern, reason", [pytest.param(p, r, id=i) for i, p, r in INVALID_TABLE])
def test_invalid_table(pattern, reason):
    with pytest.raises(InvalidEventPatternException) as raised:
        compile_pattern(pattern)
    assert reason in raised.value.message
    assert raised.value.code == "InvalidEventPatternException"
    assert isinstance(raised.value, Exception)


def test_or_combination_limit():
    def branches(prefix: str, count: int) -> list:
        return [{f"{prefix}{n}": ["x"]} for n in range(count)]

    at_limit = {"$or": branches("a", 10), "b": {"$or": branches("b", 10)}, "c": {"$or": branches("c", 10)}}
    assert compile_pattern(at_limit).subrule_count == MAX_OR_COMBINATIONS
    over = dict(at_limit, d={"$or": branches("d", 2)})
    with pytest.raises(InvalidEventPatternException, match="over 1000 rule combinations"):
        compile_pattern(over)


def test_size_limit_counts_characters_as_aws_does():
    def pattern_of(length: int, filler: str = "x") -> str:
        head, tail = '{"a":["', '"]}'
        return head + filler * (length - len(head) - len(tail)) + tail

    assert compile_pattern(pattern_of(MAX_PATTERN_SIZE)).matches({"a": "x" * 2038})
    with pytest.raises(InvalidEventPatternException, match="2049 characters"):
        compile_pattern(pattern_of(MAX_PATTERN_SIZE + 1))
    # Characters outside the BMP are two UTF-16 units, as Java (and AWS) count them.
    emoji_pattern = '{"a":["' + "\U0001f600" * 1020 + '"]}'
    with pytest.raises(InvalidEventPatternException, match="2050 characters"):
        compile_pattern(emoji_pattern)
    # Python data is measured in its most compact JSON form.
    assert compile_pattern({"a": ["x" * 2038]}).text == pattern_of(MAX_PATTERN_SIZE)
    assert compile_pattern('{"a": ["x"]}', max_size=20).matches({"a": "x"})


def test_wildcard_complexity_accepts_ordinary_patterns():
    for wildcard in ("*.png", "*/lib/*", "arn:aws:s3:::*/uploads/*.csv", "a*b*c*d", "*Title*"):
        compile_pattern({"a": [{"wildcard": wildcard}]})
    compile_pattern({"a": [{"wildcard": f"*:stack/{name}/*"} for name in ("one", "two", "three")]})
    # anything-but wildcards are not counted, as in event-ruler's evaluator
    compile_pattern({"a": [{"anything-but": {"wildcard": ["*a*a*a*a*a*a*a*a*", "*b*"]}}]})


def test_error_messages_name_the_key_and_operator():
    with pytest.raises(InvalidEventPatternException) as raised:
        compile_pattern({"detail": {"state": [{"suffix": 3}]}})
    assert raised.value.message == (
        'Event pattern is not valid. Reason: suffix match pattern must be a string at "detail.state"'
    )
    assert str(raised.value) == raised.value.message


# ---------------------------------------------------------------------------
# Hostile inputs
# ---------------------------------------------------------------------------


def test_deeply_nested_pattern_within_size_compiles_and_matches():
    depth = 330
    text = '{"a":' * depth + '["x"]' + "}" * depth
    assert len(text) <= MAX_PATTERN_SIZE
    event: dict = {"a": "x"}
    for _ in range(depth - 1):
        event = {"a": event}
    pattern = compile_pattern(text)
    assert pattern.matches(event)
    assert pattern.paths == {".".join(["a"] * depth)}


@pytest.mark.parametrize(
    "pattern",
    [
        pytest.param("[" * 1500 + "]" * 1500, id="nested-arrays-text"),
        pytest.param('{"a":' * 400 + '["x"]' + "}" * 400, id="nested-objects-text-too-large"),
        pytest.param({"a": [[[[[["x"]]]]]]}, id="nested-arrays-data"),
    ],
)
def test_deep_hostile_patterns_are_rejected_cleanly(pattern):
    with pytest.raises(InvalidEventPatternException):
        compile_pattern(pattern)


def test_deep_python_data_pattern_is_rejected_cleanly():
    pattern: dict = {"a": ["x"]}
    for _ in range(5000):
        pattern = {"a": pattern}
    with pytest.raises(InvalidEventPatternException):
        compile_pattern(pattern)


def test_deeply_nested_event_arrays():
    event_value: list = ["x"]
    for _ in range(20_000):
        event_value = [event_value]
    assert compile_pattern({"a": ["x"]}).matches({"a": event_value})
    assert not compile_pattern({"a": ["y"]}).matches({"a": event_value})


def test_huge_event_array():
    values = [f"v{n}" for n in range(200_000)]
    assert compile_pattern({"a": ["v199999"]}).matches({"a": values})  # timed: bench/bench_pattern_limits.py
    assert not compile_pattern({"a": [{"prefix": "w"}]}).matches({"a": values})


def test_array_consistency_search_stays_fast():
    # Two independent arrays of 300 objects and a third key that never matches: a naive
    # search would try 300 x 300 combinations per failing key.
    event = {
        "r": [{"k": "a", "n": n} for n in range(300)],
        "s": [{"v": "1", "n": n} for n in range(300)],
        "t": [{"w": "2"}, {"w": "3"}],
    }
    pattern = compile_pattern({"r": {"k": ["a"]}, "s": {"v": ["1"]}, "t": {"w": ["4"]}})
    assert not pattern.matches(event)  # timed against the passing keys: bench/bench_pattern_limits.py


@pytest.mark.parametrize(
    "text",
    ["", "not json", "[1, 2]", '"event"', "{", '{"a": NaN}', '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}"],
)
def test_bad_event_text_is_refused(text):
    with pytest.raises(ValueError):
        compile_pattern({"a": ["x"]}).matches_json(text)


@pytest.mark.parametrize("event", [None, [], "event", 5])
def test_event_must_be_an_object(event):
    with pytest.raises(TypeError):
        compile_pattern({"a": ["x"]}).matches(event)


def test_compile_accepts_text_bytes_data_and_patterns():
    pattern = compile_pattern('{"a": ["x"]}')
    assert isinstance(pattern, Pattern)
    assert compile_pattern(pattern) is pattern
    assert compile_pattern(b'{"a": ["x"]}').matches({"a": "x"})
    assert compile_pattern({"a": ["x"]}).text == '{"a":["x"]}'
    with pytest.raises(InvalidEventPatternException, match="not UTF-8"):
        compile_pattern(b'{"a": ["\xff"]}')


# ---------------------------------------------------------------------------
# PatternIndex
# ---------------------------------------------------------------------------


def test_index_names_order_alternatives_and_removal():
    index = PatternIndex()
    index.add("second", {"source": ["a"], "detail": {"n": [{"numeric": [">", 1]}]}})
    index.add("first", {"source": ["a"]})
    index.add("second", {"source": ["b"]})  # the same name again: an alternative
    index.add("wild", {"detail-type": [{"wildcard": "*"}]})
    assert index.match({"source": "a", "detail": {"n": 5}}) == ["second", "first"]
    assert index.match({"source": "b"}) == ["second"]
    assert index.match({"source": "b", "detail-type": "t"}) == ["second", "wild"]
    assert len(index) == 3 and "first" in index and "nope" not in index
    index.remove("second")
    assert index.match({"source": "b"}) == []
    assert index.match({"source": "a", "detail": {"n": 5}}) == ["first"]
    assert [name for name, _ in index] == ["first", "wild"]
    assert index.match_json('{"source": "a"}') == ["first"]


def test_index_refuses_invalid_patterns():
    with pytest.raises(InvalidEventPatternException):
        PatternIndex().add("bad", {"source": "aws.ec2"})


def _random_value(rng: random.Random):
    return rng.choice(
        [
            rng.choice(["a", "ab", "abc", "b", "B", "x.png", "X.PNG", "", "10.0.0.7", "2001:db8::1"]),
            rng.choice([0, 1, 5, 5.0, -3, 1e10, 2.5]),
            rng.choice([True, False, None]),
        ]
    )


def _random_operand(rng: random.Random):
    choices = [
        lambda: _random_value(rng),
        lambda: {"prefix": rng.choice(["a", "x", "1"])},
        lambda: {"suffix": rng.choice(["b", ".png"])},
        lambda: {"prefix": {"equals-ignore-case": rng.choice(["A", "X."])}},
        lambda: {"suffix": {"equals-ignore-case": ".png"}},
        lambda: {"equals-ignore-case": rng.choice(["AB", "b"])},
        lambda: {"wildcard": rng.choice(["a*", "*b", "*.*", "*"])},
        lambda: {
            "anything-but": rng.choice(
                [
                    "a",
                    ["a", "b"],
                    5,
                    [0, 1],
                    {"prefix": "a"},
                    {"suffix": ".png"},
                    {"equals-ignore-case": "ab"},
                    {"wildcard": "*b*"},
                ]
            )
        },
        lambda: {"numeric": rng.choice([[">", 0], ["<=", 5], [">", -5, "<", 2], ["=", 5]])},
        lambda: {"exists": rng.random() < 0.5},
        lambda: {"cidr": rng.choice(["10.0.0.0/8", "2001:db8::/32"])},
    ]
    return rng.choice(choices)()


def _random_pattern(rng: random.Random, depth: int = 0) -> dict:
    pattern: dict = {}
    for _ in range(rng.randint(1, 3)):
        key = rng.choice(["source", "detail-type", "a", "b", "c.d"])
        if depth < 2 and rng.random() < 0.3:
            pattern[key] = _random_pattern(rng, depth + 1)
        else:
            pattern[key] = [_random_operand(rng) for _ in range(rng.randint(1, 3))]
    if depth < 2 and rng.random() < 0.2:
        pattern["$or"] = [_random_pattern(rng, depth + 1) for _ in range(2)]
    return pattern


def _random_event(rng: random.Random, depth: int = 0) -> dict:
    event: dict = {}
    for key in ("source", "detail-type", "a", "b", "c", "c.d", "d"):
        roll = rng.random()
        if roll < 0.35:
            continue
        if depth < 2 and roll < 0.5:
            event[key] = _random_event(rng, depth + 1)
        elif depth < 2 and roll < 0.6:
            event[key] = [_random_event(rng, depth + 1) for _ in range(rng.randint(0, 3))]
        elif roll < 0.7:
            event[key] = [_random_value(rng) for _ in range(rng.randint(0, 3))]
        else:
            event[key] = _random_value(rng)
    return event


def _random_patterns(rng: random.Random, count: int) -> list[tuple[str, Pattern]]:
    rules = []
    while len(rules) < count:
        try:
            rules.append((f"rule-{len(rules)}", compile_pattern(_random_pattern(rng))))
        except InvalidEventPatternException:
            continue
    return rules


@pytest.mark.parametrize("seed", range(4))
def test_index_answers_as_brute_force_on_random_events(seed):
    rng = random.Random(seed)
    rules = _random_patterns(rng, 150)
    # Typical EventBridge rules too, so that most patterns get filed under a path.
    rules += [
        (
            f"typical-{n}",
            compile_pattern({"source": [rng.choice(["a", "b", "ab"])], "a": [_random_operand(rng)]}),
        )
        for n in range(50)
    ]
    index = PatternIndex(rules)
    matched = 0
    for _ in range(400):
        event = _random_event(rng)
        brute = [name for name, pattern in rules if pattern.matches(event)]
        assert index.match(event) == brute, (event, brute)
        matched += bool(brute)
    assert matched > 50  # the generator does produce matching events


def test_index_files_patterns_and_still_tries_unfiled_ones():
    index = PatternIndex()
    for n in range(20):
        index.add(f"typical-{n}", {"source": [f"s{n}"], "detail-type": [f"t{n % 3}"]})
    index.add("negation", {"detail": {"state": [{"anything-but": "ok"}]}})
    index.add("prefixed", {"source": [{"prefix": "s1"}], "detail": {"x": [1]}})
    index.add("prefixed-2", {"source": [{"prefix": "s2"}], "detail": {"x": [2]}})
    event = {"source": "s12", "detail-type": "t0", "detail": {"state": "bad", "x": 1}}
    assert index.match(event) == ["typical-12", "negation", "prefixed"]
    assert len(index._candidates(_EventView(event))) < 10  # far fewer than the 23 patterns
