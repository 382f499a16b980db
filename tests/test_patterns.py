"""The admin's patterns run on RE2: what RE2 cannot run is refused at its line, and a match sees bounded text."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from harness.packaged_copy import copy_packaged
from integration.domain.normalize import Normalizer
from mappings.loader import check_folder, load_mapping
from mappings.patterns import MAX_SUBJECT_CHARS, PatternError, compile_pattern
from tests.serve_process import LEADTHERM


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return copy_packaged(tmp_path)


def _line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), start=1) if text in line)


def _with_rule(folder: Path, matches: str) -> Path:
    scoring = folder / "scoring.yaml"
    rule = f"  - label: Pattern\n    attribute: title\n    matches: '{matches}'\n    points: 5\n"
    scoring.write_text(scoring.read_text().replace("fit:\n", "fit:\n" + rule, 1))
    return scoring


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("(vp)\\s+\\1", "backreferences"),
        ("founder(?= of)", "lookahead"),
        ("(?<!co-)founder", "negative lookbehind"),
        ("a++", "possessive"),
        ("ceo\\Z", "\\Z is not supported"),
    ],
)
def test_a_rule_pattern_re2_cannot_run_is_refused_at_its_line_with_the_reason(
    folder: Path, pattern: str, reason: str
) -> None:
    scoring = _with_rule(folder, pattern)
    [problem] = check_folder(folder)
    assert problem.line == _line_of(scoring, f"matches: '{pattern}'")
    assert problem.field == "fit[0].matches"
    assert reason in problem.message and "RE2" in problem.message


def test_a_seniority_pattern_with_a_lookbehind_is_refused_at_its_line(folder: Path) -> None:
    mapping = folder / "hubspot.yaml"
    text = mapping.read_text().replace("  - pattern: '\\b(manager|", "  - pattern: '(?<!assistant )(manager|", 1)
    mapping.write_text(text)
    [problem] = check_folder(folder)
    assert problem.file.endswith("hubspot.yaml") and problem.field == "seniority[2].pattern"
    assert problem.line == _line_of(mapping, "(?<!assistant )")
    assert "lookbehind" in problem.message


def test_check_on_a_refused_pattern_prints_one_line_and_exits_2(folder: Path) -> None:
    scoring = _with_rule(folder, "(a)\\1")
    done = subprocess.run([*LEADTHERM, "check", str(scoring)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr + done.stdout
    problem_lines = [line for line in (done.stdout + done.stderr).splitlines() if "backreferences" in line]
    line = _line_of(scoring, "matches: '(a)")
    assert len(problem_lines) == 1 and f"scoring.yaml:{line} fit[0].matches" in problem_lines[0]


def test_nested_quantifiers_are_valid_and_do_not_match_a_title_that_defeats_them() -> None:
    # On Python's re each search below backtracks for minutes; the timeout marks that failure.
    title = "a" * 34 + "!"
    assert compile_pattern("^(a+)+$").search(title) is False
    assert compile_pattern("^(\\w+\\s?)+$").search(title) is False
    assert compile_pattern("^(\\w+\\s?)+$").search("Head of Sales") is True


def test_patterns_match_case_insensitively_like_before() -> None:
    assert compile_pattern("\\b(vp|vice president)\\b").search("VP Marketing")
    assert compile_pattern("geschäftsführer").search("GESCHÄFTSFÜHRER")


def test_a_match_sees_only_the_first_thousand_characters() -> None:
    assert compile_pattern("founder").search("x" * (MAX_SUBJECT_CHARS - 7) + "founder")
    assert not compile_pattern("founder").search("x" * MAX_SUBJECT_CHARS + "founder")


def test_a_seniority_pattern_reads_a_hostile_title_as_no_seniority(folder: Path) -> None:
    mapping = folder / "hubspot.yaml"
    text = mapping.read_text().replace("  - pattern: '[\\pL\\pN_]'", "  - pattern: '^(\\w+\\s?)+$'", 1)
    assert "^(\\w+\\s?)+$" in text
    mapping.write_text(text)
    normalizer = Normalizer(load_mapping("hubspot", folder))
    lead = normalizer.lead({"hs_object_id": "7", "jobtitle": "a" * 34 + "!"}, "contact")
    assert lead.seniority is None


def test_a_refused_pattern_is_a_pattern_error_naming_it() -> None:
    with pytest.raises(PatternError, match="'\\(a\\)\\\\\\\\1'"):
        compile_pattern("(a)\\1")


def test_the_packaged_patterns_run_on_re2() -> None:
    assert check_folder() == []
    for crm in ("hubspot", "salesforce"):
        for seniority in load_mapping(crm).seniority:
            compile_pattern(seniority.pattern)
