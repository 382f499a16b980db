"""Bounded documents: YAML aliases and deep nesting, deep JSON and huge numbers are one located line, never a crash."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from harness.packaged_copy import copy_packaged
from mappings.documents import MAX_DEPTH, DocumentError, compose_yaml, load_json, load_yaml
from mappings.loader import PACKAGED
from tests.serve_process import LEADTHERM


def alias_bomb() -> str:
    """The billion laughs: about 500 bytes of YAML that expand to 9^9 strings."""
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level, name in enumerate("bcdefghi"):
        previous = "abcdefghi"[level]
        lines.append(f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]")
    return "\n".join(lines) + "\n"


def deep_yaml(levels: int = 1000) -> str:
    return "fit:\n  - " + "[" * levels + "]" * levels + "\n"


def test_the_alias_bomb_is_a_few_hundred_bytes() -> None:
    assert len(alias_bomb().encode()) < 600


@pytest.mark.parametrize("fast", [False, True])
def test_a_yaml_alias_is_refused_at_its_line(fast: bool) -> None:
    with pytest.raises(DocumentError) as caught:
        compose_yaml(alias_bomb(), fast=fast)
    assert caught.value.line == 2 and "aliases (*a) are not allowed" in caught.value.message


def test_yaml_nesting_deeper_than_the_limit_is_refused_at_its_line() -> None:
    with pytest.raises(DocumentError) as caught:
        load_yaml(deep_yaml())
    assert caught.value.line == 2 and f"deeper than {MAX_DEPTH}" in caught.value.message
    assert load_yaml(deep_yaml(MAX_DEPTH - 2)) is not None  # with fit: and its list, exactly the limit


def test_an_anchor_without_an_alias_still_loads() -> None:
    assert load_yaml("weights: &w {fit: 0.5}\n") == {"weights": {"fit": 0.5}}


def test_no_packaged_file_uses_an_alias() -> None:
    for path in PACKAGED.glob("*.yaml"):
        load_yaml(path.read_text())


def test_json_nested_deeper_than_the_limit_is_refused_at_its_line() -> None:
    for levels in (MAX_DEPTH + 1, 5_000):
        with pytest.raises(DocumentError) as caught:
            load_json('{"results":\n' + "[" * levels + "]" * levels + "}")
        assert caught.value.line == 2 and "deeper than" in caught.value.message


def test_a_json_number_of_5000_digits_is_refused_at_its_line() -> None:
    with pytest.raises(DocumentError) as caught:
        load_json('[{"id": 1},\n {"id": ' + "9" * 5_000 + "}]")
    assert caught.value.line == 2 and "5,000 digits" in caught.value.message


def test_brackets_inside_json_strings_do_not_count_as_nesting() -> None:
    text = json.dumps([{"title": "[" * 500, "empty": ""}])
    assert load_json(text)[0]["title"] == "[" * 500


def _one_line(done: subprocess.CompletedProcess[str], needle: str) -> str:
    output = done.stdout + done.stderr
    assert "Traceback" not in output
    assert len(output.splitlines()) < 10, output[:2000]
    [line] = [line for line in output.splitlines() if needle in line]
    return line


def test_check_on_an_alias_bomb_prints_one_located_line(tmp_path: Path) -> None:
    copy_packaged(tmp_path)
    (tmp_path / "scoring.yaml").write_text(alias_bomb())
    done = subprocess.run(
        [*LEADTHERM, "check", "--mappings", str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "scoring.yaml:2: YAML aliases (*a) are not allowed" in _one_line(done, "aliases")


def test_check_on_a_thousand_deep_file_prints_one_located_line_not_a_traceback(tmp_path: Path) -> None:
    copy_packaged(tmp_path)
    (tmp_path / "hubspot.yaml").write_text(deep_yaml())
    done = subprocess.run([*LEADTHERM, "check", str(tmp_path / "hubspot.yaml")], capture_output=True, text=True)
    assert done.returncode == 2
    assert "hubspot.yaml:2: nested deeper than 50 levels" in _one_line(done, "nested deeper")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('{"results":\n' + "[" * 1000 + "]" * 1000 + "}", "export.json:2: nested deeper than 50 levels"),
        ('[{"hs_object_id": "1"},\n {"hs_object_id": ' + "1" * 5000 + "}]", "export.json:2: a number of 5,000 digits"),
    ],
)
def test_score_on_a_hostile_json_export_prints_one_line_and_exits_2(tmp_path: Path, content: str, reason: str) -> None:
    export = tmp_path / "export.json"
    export.write_text(content)
    done = subprocess.run(
        [*LEADTHERM, "score", "export.json", "--crm", "hubspot"], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 2
    assert reason in _one_line(done, "export.json")
