"""``rules.json``: format 2 keeps what PutRule/PutTargets were given; format 1 files still load."""

import json

from app.bus.definition import RetryPolicy, Rule, Target
from app.bus.rule_store import RuleStore


def test_a_format_1_file_loads_and_saves_as_format_2(tmp_path):
    old = {
        "rules": [
            {
                "name": "r",
                "pattern": {"source": ["a"]},
                "targets": [
                    {
                        "id": "q",
                        "kind": "queue",
                        "endpoint": None,
                        "queue": "q1",
                        "log": None,
                        "dead_letter_queue": None,
                        "retry": {"maximum_retry_attempts": 3, "maximum_event_age_s": 600},
                        "input_path": None,
                        "input_transformer": None,
                        "input": None,
                    }
                ],
                "description": "d",
                "state": "DISABLED",
            }
        ],
        "deleted": ["gone"],
    }
    (tmp_path / "rules.json").write_text(json.dumps(old))
    store = RuleStore.in_state_dir(tmp_path)
    [rule], deleted = store.load()
    assert deleted == {"gone"}
    assert (rule.pattern_json, rule.targets[0].arn, rule.targets[0].retry) == (
        '{"source":["a"]}',
        None,
        RetryPolicy(3, 600),
    )
    kept = Rule(
        "n",
        {"source": ["b"]},
        (Target("q", "queue", queue="q1", arn="arn:aws:sqs:us-west-2:111111111111:q1"),),
        pattern_text='{"source": [ "b" ]}',
        role_arn="arn:aws:iam::1:role/x",
    )
    store.save([rule, kept], deleted)
    assert json.loads((tmp_path / "rules.json").read_text())["format"] == 2
    assert store.load() == ([rule, kept], deleted)
