"""The admin's files: the packaged ones are valid; broken ones report every problem, located."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.packaged_copy import copy_packaged
from mappings.errors import ConfigError
from mappings.loader import check_folder, load_mapping, load_rules


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return copy_packaged(tmp_path)


def _line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), start=1) if text in line)


def test_the_packaged_files_are_valid() -> None:
    assert check_folder() == []
    assert load_rules().temperature.hot == 70
    assert load_mapping("salesforce").objects == ["Lead", "Contact"]


def test_every_problem_in_a_file_is_reported_at_once_with_its_line(folder: Path) -> None:
    scoring = folder / "scoring.yaml"
    text = scoring.read_text()
    text = text.replace("    points: 25\n", "    points: lots\n", 1)  # wrong type
    text = text.replace("  hot: 70", "  hot: 30")  # thresholds out of order
    text = text.replace("    attribute: industry\n", "    attribute: industry\n    colour: blue\n", 1)  # unknown key
    scoring.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_rules(folder)
    lines = [str(p) for p in caught.value.problems]
    assert len(lines) == 3
    assert f"scoring.yaml:{_line_of(scoring, 'points: lots')} fit[0].points: must be a number (got 'lots')" in lines[
        0
    ] + " ".join(lines)
    assert any(f":{_line_of(scoring, 'colour: blue')} fit[6].colour: unknown key" in line for line in lines)
    assert any("temperature: thresholds out of order" in line for line in lines)


def test_a_bad_regex_in_a_mapping_names_the_pattern(folder: Path) -> None:
    mapping = folder / "hubspot.yaml"
    mapping.write_text(mapping.read_text().replace("  - pattern: '\\b(vp|", "  - pattern: '\\b((vp|", 1))
    problems = check_folder(folder)
    assert len(problems) == 1
    assert problems[0].file.endswith("hubspot.yaml")
    assert problems[0].field == "seniority[1].pattern"
    assert "bad regular expression" in problems[0].message
    assert problems[0].line == _line_of(mapping, "- pattern: '\\b((vp|")


def test_an_unknown_lead_attribute_is_named_with_the_known_ones(folder: Path) -> None:
    mapping = folder / "salesforce.yaml"
    mapping.write_text(mapping.read_text().replace("  company_size:", "  company_sise:"))
    [problem] = check_folder(folder)
    assert "company_sise" in problem.message and "company_size" in problem.message


def test_a_yaml_syntax_error_is_located(folder: Path) -> None:
    (folder / "scoring.yaml").write_text("weights:\n  fit: [0.5\n")
    [problem] = check_folder(folder)
    assert problem.file.endswith("scoring.yaml") and problem.line is not None
    assert "not valid YAML" in problem.message


def test_engagement_rules_cannot_subtract_and_penalties_cannot_add(folder: Path) -> None:
    scoring = folder / "scoring.yaml"
    text = scoring.read_text().replace("    points: 30\n", "    points: -30\n", 1)
    scoring.write_text(text.replace("    points: -15\n", "    points: 15\n", 1))
    messages = " ".join(p.message for p in check_folder(folder))
    assert "engagement points must be >= 0" in messages or "penalty points must be <= 0" in messages
