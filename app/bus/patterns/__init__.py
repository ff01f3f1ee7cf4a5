"""The Amazon EventBridge event-pattern language, as a pure and fast package.

Behaves like Amazon EventBridge, whose matching engine is AWS's event-ruler
(https://github.com/aws/event-ruler): the rule compiler's checks and messages are
event-ruler's ``JsonRuleCompiler``, and matching is its array-consistent
``rulesForJSONEvent``.  Operator reference:
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html

Public API::

    pattern = compile_pattern('{"source": ["aws.ec2"]}')   # validates once
    pattern.matches({"source": "aws.ec2"})                  # -> True
    pattern.matches_json('{"source": "aws.ec2"}')           # raw JSON text

    index = PatternIndex()
    index.add("rule-1", pattern)
    index.match(event)                                     # -> ["rule-1"]

How matching works (event-ruler's model, which decides every quirk below):

* A pattern is compiled into *sub-rules*: ``$or`` is expanded into one sub-rule per
  branch combination.  A sub-rule maps a dotted field path (``detail.state``) to the
  alternatives one leaf value may match.  Dotted pattern keys and nested objects are
  the same path; so are dotted event keys and nested event objects.
* The event is seen as leaf fields (path, value).  Objects are not leaves (so
  ``exists`` only sees leaves).  Every element of an array is a field of the array's
  path; a field inside an object that is an element of an array remembers which
  element it came from ("array membership").
* A sub-rule matches when, taking its paths in sorted order, each path has a field
  whose value matches one of its alternatives (or, for ``{"exists": false}``, no
  field), and all the chosen fields agree on the element of every array they share:
  event-ruler refuses matches built from different elements of one array of objects.
  ``{"exists": false}`` is judged against the fields chosen for earlier paths (in Java
  String order), exactly as event-ruler's ACFinder does.

Choices where EventBridge's documentation is silent or out of date (the golden data in
shared/testdata/eventbridge decides where it can):

* Numbers: numeric operators and numeric equality compare doubles over the whole double
  range, as event-ruler 2.x does; the older "-5.0e9..+5.0e9, 6 decimals" limit is not
  applied (nothing in the golden data asks for it).  A number a double cannot hold
  (1e400, 1e-400) is refused in numeric operators ("Cannot compare number") and matches
  only by its text in an exact list, as in event-ruler.
* A plain string that is an IP address matches other spellings of that address, and a
  CIDR block ignores its host bits (both as event-ruler).  IPv4 with leading zeros is
  not an address (ambiguous; recent JDKs refuse it too).
* event-ruler's machine-wide side effects (one rule's numeric or CIDR operand changing
  how every rule on the same field sees values) are not reproduced: each pattern is
  judged on its own, as EventBridge documents.
* Refused although event-ruler lets them through: text after the pattern's closing brace,
  and empty lists inside anything-but (``{"anything-but": {"prefix": []}}``).
* ``exactly`` (event-ruler's explicit exact-string operator) is accepted.

Modules, in the order a pattern goes through them: reading (JSON text and data);
compiler (validation into sub-rules, whose alternatives are operands, built on matchers
and addresses; errors words the refusals); complexity (the wildcard check); fields (a
path's operands as one test); events and matching (an event's fields against a
sub-rule); pattern (Pattern, compile_pattern); keys, tables and index (PatternIndex).
Only the names in ``__all__`` are the package's API.
"""

from __future__ import annotations

from app.bus.patterns.compiler import MAX_OR_COMBINATIONS
from app.bus.patterns.complexity import MAX_WILDCARD_COMPLEXITY
from app.bus.patterns.errors import InvalidEventPatternException
from app.bus.patterns.events import EventView
from app.bus.patterns.index import PatternIndex
from app.bus.patterns.pattern import MAX_PATTERN_SIZE, Pattern, compile_pattern

__all__ = [
    "MAX_OR_COMBINATIONS",
    "MAX_PATTERN_SIZE",
    "MAX_WILDCARD_COMPLEXITY",
    "InvalidEventPatternException",
    "Pattern",
    "PatternIndex",
    "compile_pattern",
]

# tests/bus/test_patterns.py counts the patterns an event tries through this name.
_EventView = EventView
