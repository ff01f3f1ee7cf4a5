"""The bus definition is read by PyYAML's safe loader in pure Python. libyaml's (tried for
speed) reads another grammar at the edges: it refused a flow mapping with unquoted keys
and no space after the colon, which the pure-Python loader reads, and its errors lose the
quoted line and caret. A definition that loads once must keep loading."""

from __future__ import annotations

from pathlib import Path

from app.bus.definition import DEFAULT_DEFINITION, load_definition

JSON_PATTERN = '    pattern: {"source": ["verticals.shop"], "detail-type": ["OrderPlaced"]}\n'


def test_a_pattern_in_compact_flow_yaml_loads(tmp_path: Path):
    text = Path(DEFAULT_DEFINITION).read_text()
    assert JSON_PATTERN in text
    compact = tmp_path / "bus.yaml"
    compact.write_text(
        text.replace(JSON_PATTERN, '    pattern: {source:["verticals.shop"], detail-type:["OrderPlaced"]}\n')
    )
    rules = {r.name: r for r in load_definition(compact).rules}
    expected = {r.name: r for r in load_definition().rules}
    assert rules.keys() == expected.keys()
    assert all(rules[name].pattern == expected[name].pattern for name in rules)
