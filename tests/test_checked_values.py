"""`leadtherm check` knows the values of attributes with a vocabulary, and names the one a typo meant."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from harness.packaged_copy import copy_packaged

LEADTHERM = [sys.executable, "-c", "from integration.cli import main; main()"]


def _check(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LEADTHERM, "check", "--mappings", str(folder)], capture_output=True, text=True, timeout=60)


def test_a_typo_of_a_seniority_value_is_refused_with_the_value_it_meant(tmp_path: Path) -> None:
    copy_packaged(tmp_path)
    scoring = tmp_path / "scoring.yaml"
    text = scoring.read_text()
    assert "    is: executive\n" in text
    scoring.write_text(text.replace("    is: executive\n", "    is: executiv\n", 1))
    done = _check(tmp_path)
    assert done.returncode == 2, done.stderr
    [line] = [line for line in done.stderr.splitlines() if "executiv " in line]
    assert "fit[0].is:" in line
    assert "executiv is not a seniority value (did you mean executive?)" in line
    assert "Traceback" not in done.stderr


def test_the_values_a_mapping_maps_onto_are_the_vocabulary(tmp_path: Path) -> None:
    copy_packaged(tmp_path)
    hubspot = tmp_path / "hubspot.yaml"
    salesforce = tmp_path / "salesforce.yaml"
    # Both mappings now call an unqualified lead `disqualified`: the old value is a typo away from nothing.
    hubspot.write_text(hubspot.read_text().replace("UNQUALIFIED: unqualified", "UNQUALIFIED: disqualified"))
    salesforce.write_text(salesforce.read_text().replace("Not Converted: unqualified", "Not Converted: disqualified"))
    scoring = tmp_path / "scoring.yaml"
    scoring.write_text(scoring.read_text().replace("in: [not_interested, unqualified]", "is: disqualifed"))
    done = _check(tmp_path)
    assert done.returncode == 2, done.stderr
    assert "disqualifed is not a lead status value (did you mean disqualified?)" in done.stderr


def test_a_value_no_mapping_produces_beside_good_ones_is_not_an_error(tmp_path: Path) -> None:
    copy_packaged(tmp_path)
    scoring = tmp_path / "scoring.yaml"
    scoring.write_text(scoring.read_text().replace("in: [not_interested, unqualified]", "in: [unqalified, working]"))
    done = _check(tmp_path)
    assert done.returncode == 0, done.stderr
    assert "unqalified is not a lead status value (did you mean unqualified?) (warning)" in done.stderr


def test_a_lifecycle_stage_is_one_of_the_stages(tmp_path: Path) -> None:
    copy_packaged(tmp_path)
    scoring = tmp_path / "scoring.yaml"
    rule = "  - label: Already a customer\n    attribute: lifecycle\n    is: custmer\n    points: -10\n"
    scoring.write_text(scoring.read_text().replace("\nengagement:", f"{rule}\nengagement:", 1))
    done = _check(tmp_path)
    assert done.returncode == 2, done.stderr
    assert "custmer is not a lifecycle stage value (did you mean customer?)" in done.stderr


def test_a_reps_rating_is_a_temperature(tmp_path: Path) -> None:
    copy_packaged(tmp_path)
    scoring = tmp_path / "scoring.yaml"
    scoring.write_text(scoring.read_text().replace("    is: hot\n", "    is: hott\n", 1))
    done = _check(tmp_path)
    assert done.returncode == 2, done.stderr
    assert "hott is not a rep rating value (did you mean hot?)" in done.stderr
