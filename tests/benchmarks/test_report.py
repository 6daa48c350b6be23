"""The benchmarks' shared ending: a table, then with --json exactly one JSON line, last."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from _report import report  # benchmarks/ is not a package: on the path above


@pytest.mark.parametrize("quick", [True, False, None])
def test_json_is_the_last_line_and_says_quick(
    quick: bool | None, capsys: pytest.CaptureFixture[str]
) -> None:
    report([("ratio", "1.000", "goal <= 1.05: ok")], {"ratio": 1.0}, as_json=True, quick=quick)
    lines = capsys.readouterr().out.strip().splitlines()
    figures = json.loads(lines[-1])
    assert figures["ratio"] == 1.0
    assert figures.get("quick") == quick  # absent when the script does not say
    assert not any(line.lstrip().startswith("{") for line in lines[:-1])


def test_no_json_without_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    report([("ratio", "1.000", "")], {"ratio": 1.0}, as_json=False, quick=True)
    out = capsys.readouterr().out
    assert "{" not in out and "--quick" in out
