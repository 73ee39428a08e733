"""Metrics as CloudWatch receives them: the EMF documents a real handler prints on stdout,
read back as CloudWatch reads them (not the source text that calls add_metric)."""

from __future__ import annotations

import json
import re
from typing import Any

from rotor.local.harness import STEPS

from tests.deploy import cfn
from tests.pg import pg_secret


def emitted(out: str) -> list[dict[str, Any]]:
    """Each EMF document printed: its namespace, dimension names, metrics (name: (unit,
    values)) and the values of its dimensions."""
    found = []
    for line in out.splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if not isinstance(doc, dict) or "_aws" not in doc:
            continue
        (directive,) = doc["_aws"]["CloudWatchMetrics"]
        (dimensions,) = directive["Dimensions"]
        found.append(
            {
                "namespace": directive["Namespace"],
                "dimensions": {name: doc[name] for name in dimensions},
                "metrics": {m["Name"]: (m["Unit"], doc[m["Name"]]) for m in directive["Metrics"]},
            }
        )
    return found


def rotate(harness, new_secret, pg, make_role, capsys, password=None):
    user, real = make_role(pg)
    arn = new_secret(pg_secret(pg, user, password or real))
    capsys.readouterr()
    report = harness("postgresql_single", attempts=1).rotate(arn)
    # The steps' own documents (the rotation's outcome has its own: tests/core/test_events.py).
    return report, [d for d in emitted(capsys.readouterr().out) if "step" in d["dimensions"]]


def test_each_step_emits_success_and_duration(harness, new_secret, pg, make_role, capsys):
    report, docs = rotate(harness, new_secret, pg, make_role, capsys)
    assert report.succeeded
    assert [d["dimensions"]["step"] for d in docs] == list(STEPS)
    for doc in docs:
        assert doc["namespace"] == "Rotor"
        assert set(doc["dimensions"]) == {"rotator", "step", "service"}
        assert doc["dimensions"]["rotator"] == "postgresql-single"
        assert set(doc["metrics"]) == {"StepSucceeded", "StepDuration"}
        assert doc["metrics"]["StepSucceeded"] == ("Count", [1.0])
        unit, (duration,) = doc["metrics"]["StepDuration"]
        assert unit == "Milliseconds" and isinstance(duration, float)


def test_a_failed_step_emits_step_failed(harness, new_secret, pg, make_role, capsys):
    report, docs = rotate(harness, new_secret, pg, make_role, capsys, password="not-it")
    assert not report.succeeded and report.steps[-1].step == "setSecret"
    created, failed = docs
    assert created["metrics"]["StepSucceeded"] == ("Count", [1.0])
    assert failed["dimensions"]["step"] == "setSecret"
    assert set(failed["metrics"]) == {"StepFailed", "StepDuration"}
    assert failed["metrics"]["StepFailed"] == ("Count", [1.0])


def test_the_step_failed_alarm_queries_what_is_emitted(harness, new_secret, pg, make_role, capsys):
    """The alarm's Metrics Insights query matches only metrics with exactly its dimension
    set, in its namespace: compare with a real failed step's document."""
    _, docs = rotate(harness, new_secret, pg, make_role, capsys, password="not-it")
    template = cfn.load()
    query = template["Resources"]["StepFailedAlarm"]["Properties"]["Metrics"][0]
    match = re.search(
        r'SUM\((\w+)\) FROM SCHEMA\("\$\{MetricsNamespace\}", ([\w, ]+)\)',
        query["Expression"]["Fn::Sub"],
    )
    assert match, query
    metric, dimensions = match.group(1), {d.strip() for d in match.group(2).split(",")}
    failed = docs[-1]
    assert metric in failed["metrics"]
    assert set(failed["dimensions"]) == dimensions
    assert failed["namespace"] == template["Parameters"]["MetricsNamespace"]["Default"]
