"""The rule grammar, the file names and the enums are declared once (mappings/grammar.py, mappings/catalogue.py).

Every other module reads them: a copy kept elsewhere drifts (the sections were once spelled
three times, one of them "penalty" against the YAML's "penalties").
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from integration.domain.model import Stage, Temperature
from mappings.catalogue import CUSTOM_KINDS, STAGES, TEMPERATURES
from mappings.grammar import (
    CONDITIONS,
    EACH,
    FOLDER_GLOB,
    MAX_POINTS,
    SCORING_FILE,
    SECTION_KEYS,
    SECTIONS,
    SUFFIX,
    crm_of,
    mapping_file,
)
from mappings.schema import Condition, Rule, ScoringRules

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("integration", "mappings", "adapters", "webhooks")
DECLARING = ("mappings/grammar.py", "mappings/catalogue.py")
# A collection copies a vocabulary when most of what it lists is from it, and at least this many names:
# fit and engagement alone are also the two weights, and a transform shares its name with a kind.
AT_LEAST_NAMES = {"rule sections": 3}
VOCABULARIES: dict[str, frozenset[str]] = {
    "rule sections": frozenset({*SECTION_KEYS, *(s.label for s in SECTIONS)}),
    "conditions": frozenset({*CONDITIONS, MAX_POINTS}),
    "custom attribute kinds": frozenset(CUSTOM_KINDS),
    "temperatures": frozenset(TEMPERATURES),
    "stages": frozenset(STAGES),
}


def _strings(node: ast.AST) -> list[str] | None:
    """The names a literal collection lists: a tuple, list or set of strings, or the keys of a dict of plain data."""
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        items = node.elts
    elif isinstance(node, ast.Dict) and all(isinstance(v, ast.Constant) for v in node.values):
        items = [k for k in node.keys if k is not None]  # a dict computing each value is not a copy
    else:
        return None
    return [e.value for e in items if isinstance(e, ast.Constant) and isinstance(e.value, str)]


def spelled_again(source: str) -> list[tuple[int, str]]:
    """Where a module declares grammar of its own: (line, what) for each copy of a vocabulary or a file name."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        words = _strings(node)
        if words is not None:
            for what, names in VOCABULARIES.items():
                hits = [w for w in words if w in names]
                if len(set(hits)) >= AT_LEAST_NAMES.get(what, 2) and 2 * len(hits) > len(words):
                    found.append((node.lineno, what))
        elif isinstance(node, ast.Constant) and node.value in (SCORING_FILE, SUFFIX, FOLDER_GLOB):
            found.append((node.lineno, "the files' names"))
        elif isinstance(node, ast.JoinedStr) and node.values:  # f"{crm}.yaml"
            last = node.values[-1]
            if isinstance(last, ast.Constant) and isinstance(last.value, str) and last.value.endswith(SUFFIX):
                found.append((node.lineno, "a mapping file's name"))
    return found


def test_no_module_outside_the_grammar_and_the_catalogue_spells_the_vocabulary_again() -> None:
    copies = []
    for folder in PACKAGES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            where = path.relative_to(ROOT).as_posix()
            if where in DECLARING or "_pb2" in path.name:
                continue
            copies += [f"{where}:{line}: {what}" for line, what in spelled_again(path.read_text(encoding="utf-8"))]
    assert copies == []


@pytest.mark.parametrize(
    "copy",
    [
        'AXES = ("fit", "engagement", "penalties")',
        '_AXES = ("fit", "engagement", "penalty")',
        'CONDITIONS = ("is", "in", "matches", "at_least", "below", "present", "each")',
        'KINDS = ("text", "integer", "number", "boolean", "datetime")',
        'Band = Literal["cold", "cool", "warm", "hot"]',
        'path = folder / "scoring.yaml"',
        'path = folder / f"{crm}.yaml"',
        'files = folder.glob("*.yaml")',
    ],
)
def test_a_copy_of_the_grammar_is_found(copy: str) -> None:
    assert spelled_again(copy)


def test_the_schema_spells_each_section_and_condition_as_the_grammar_declares_it() -> None:
    def keys(model: type[Condition | Rule | ScoringRules]) -> set[str]:
        return {field.alias or name for name, field in model.model_fields.items()}

    assert set(SECTION_KEYS) <= keys(ScoringRules)
    assert all(ScoringRules.model_fields[key].annotation == list[Rule] for key in SECTION_KEYS)
    assert {*CONDITIONS, MAX_POINTS} <= keys(Rule)
    assert keys(Condition) - {"attribute"} == set(CONDITIONS) - {EACH}


def test_a_penalty_rule_is_named_by_the_singular_and_the_file_by_the_plural() -> None:
    assert [(s.key, s.label) for s in SECTIONS] == [
        ("fit", "fit"),
        ("engagement", "engagement"),
        ("penalties", "penalty"),
    ]


def test_the_enums_are_the_catalogues_tuples_in_their_order() -> None:
    assert tuple(Temperature) == TEMPERATURES and tuple(Stage) == STAGES
    assert [t.rank for t in Temperature] == [1, 2, 3, 4]


def test_a_file_name_says_which_crm_it_maps() -> None:
    assert crm_of(mapping_file("hubspot")) == "hubspot"
    assert crm_of(SCORING_FILE) is None
    assert crm_of("notes.txt") is None
