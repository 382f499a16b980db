"""Load and validate the admin's YAML files, reporting every problem with file, line and field."""

from __future__ import annotations

import copy
import logging
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from mappings.company import CompanyRules
from mappings.crosscheck import complete_outputs, rules_against, rules_value_notices, segment_against
from mappings.documents import DocumentError, compose_yaml, load_yaml
from mappings.errors import ConfigError, Problem
from mappings.grammar import (
    COMPANY_RULES_FILE,
    FOLDER_GLOB,
    NAMED_SCORING_GLOB,
    SCORING_FILE,
    SECTION_KEYS,
    SEGMENT,
    crm_of,
    mapping_file,
    named_scoring_file,
    score_of,
)
from mappings.schema import CrmMapping, NamedScoringRules, ScoreDefinition, ScoringRules, score_name_problem

log = logging.getLogger("leadtherm.mappings")

PACKAGED = Path(__file__).resolve().parent
Model = TypeVar("Model", bound=BaseModel)
Location = tuple[str | int, ...]


def mappings_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The mapping folder: an explicit one, or the packaged defaults.

    `LEADTHERM_MAPPINGS` is a setting: the composition reads it and passes the folder here.
    """
    return Path(override) if override else PACKAGED


@dataclass(frozen=True)
class Located:
    """Parsed YAML data, the line on which each key or list item starts, and duplicate keys found."""

    data: Any
    lines: dict[Location, int]
    duplicates: list[Problem] = field(default_factory=list)


def _located(
    node: yaml.Node, path: Location, lines: dict[Location, int], duplicates: list[tuple[Location, int]]
) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _value(key_node) if key_node.tag else key_node.value
            if key in result:
                # YAML keeps the last of two equal keys silently; an admin means one of them.
                duplicates.append(((*path, key), key_node.start_mark.line + 1))
                continue
            lines[(*path, key)] = key_node.start_mark.line + 1
            result[key] = _located(value_node, (*path, key), lines, duplicates)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_located(item, (*path, i), lines, duplicates) for i, item in enumerate(node.value)]
    return _value(node)


def _value(node: yaml.Node) -> Any:
    """The node's value as yaml.safe_load reads it, built from the node (writing it out and parsing it
    again, per scalar, was most of `leadtherm check`'s time)."""
    return yaml.constructor.SafeConstructor().construct_object(node, deep=True)


def read_yaml(text: str, file: str) -> Located:
    """Parse YAML keeping line numbers; a syntax error becomes a located problem."""
    try:
        try:
            node = compose_yaml(text, fast=True)
        except (DocumentError, yaml.YAMLError):
            node = compose_yaml(text)  # PyYAML's own parser says what is wrong, in its words
    except DocumentError as exc:
        raise ConfigError([Problem(file, exc.line, "", exc.message)]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([Problem(file, line, "", f"not valid YAML: {reason}")]) from exc
    lines: dict[Location, int] = {}
    found: list[tuple[Location, int]] = []
    data = _located(node, (), lines, found) if node is not None else {}
    duplicates = [
        Problem(file, line, _field_name(key), f"duplicate key (first on line {lines.get(key)})") for key, line in found
    ]
    return Located(data, lines, duplicates)


_FRIENDLY = {
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be text",
    "missing": "is required",
    "extra_forbidden": "unknown key",
    "dict_type": "must be a mapping of keys to values",
    "list_type": "must be a list",
    "model_type": "must be a mapping of keys to values",
}


def _field_name(loc: Location) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _line_for(loc: Location, lines: dict[Location, int]) -> int | None:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


_BOUNDS = ("greater_than_equal", "less_than_equal", "greater_than", "less_than")
_QUOTED = re.compile(r"'([^']+)'")
MAX_PASSES = 5  # each pass can only reveal problems hidden behind the ones already found


def _data_loc(error: ErrorDetails) -> Location:
    # pydantic adds the union member or validator name to some locations; drop what is not data.
    return tuple(p for p in error["loc"] if not (isinstance(p, str) and "[" in p))


def _at(data: Any, loc: Location) -> Any:
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _where(error: ErrorDetails, located: Located) -> Location:
    """The location a problem is about, down to the key or list item a whole-container check names."""
    loc = _data_loc(error)
    # A check on a whole mapping or list that names one of its members ("unknown Lead attribute
    # 'x'", "rule 'Webinar': ...") is about that member: point at its own line, not its parent's.
    container = _at(located.data, loc)
    for name in _QUOTED.findall(error["msg"]):
        if (*loc, name) in located.lines:
            return (*loc, name)
        if isinstance(container, list):
            for index, item in enumerate(container):
                if isinstance(item, dict) and item.get("label") == name:
                    return (*loc, index)
    return loc


def _message(error: ErrorDetails) -> str:
    if error["type"] == "literal_error":
        expected = str((error.get("ctx") or {}).get("expected", "")).replace("'", "")
        return f"must be one of {expected} (got {error.get('input')!r})"
    ctx = error.get("ctx") or {}
    bounds = {"ge": "at least", "le": "at most", "gt": "more than", "lt": "less than"}
    bound = next((f"must be {words} {ctx[key]:g}" for key, words in bounds.items() if key in ctx), None)
    message = bound or _FRIENDLY.get(error["type"]) or error["msg"].removeprefix("Value error, ")
    if error["type"] in ("float_parsing", "int_parsing", "bool_parsing", *_BOUNDS):
        message += f" (got {error.get('input')!r})"
    return message


def _problem(error: ErrorDetails, file: str, located: Located) -> Problem:
    loc = _where(error, located)
    return Problem(file, _line_for(loc, located.lines), _field_name(loc), _message(error))


def _without(data: Any, loc: Location) -> bool:
    """Remove the value at `loc` from nested dicts (in place); False when there is none."""
    for part in loc[:-1]:
        if not isinstance(data, dict | list):
            return False
        try:
            data = data[part]  # type: ignore[index]
        except (KeyError, IndexError, TypeError):
            return False
    if isinstance(data, dict) and loc and loc[-1] in data:
        del data[loc[-1]]
        return True
    return False


def _related(loc: Location, removed: set[Location]) -> bool:
    """Whether a problem at `loc` is an echo of removing a value: at it, or at the mapping that held it."""
    return any(loc in (gone, gone[:-1]) for gone in removed)


def validate(model: type[Model], located: Located, file: str) -> Model:
    """Validate parsed data against a schema, collecting every error as a located problem."""
    # pydantic skips a container's own checks once one of its values is invalid (a `transform`
    # typo hides an unknown attribute beside it): set the invalid values aside and check the
    # rest again, until no new problem appears.
    problems: list[Problem] = list(located.duplicates)
    data = copy.deepcopy(located.data)
    removed: set[Location] = set()
    for _ in range(MAX_PASSES):
        try:
            result = model.model_validate(data)
        except ValidationError as exc:
            errors = exc.errors()
        else:
            if problems:
                break
            return result
        fresh = [e for e in errors if not _related(_where(e, located), removed)]
        fresh_problems = [p for p in (_problem(e, file, located) for e in fresh) if p not in problems]
        if not fresh_problems:
            break
        problems.extend(fresh_problems)
        progressed = False
        for error in fresh:
            loc = _where(error, located)
            if loc not in removed and _without(data, loc):
                removed.add(loc)
                progressed = True
        if not progressed:
            break
    raise ConfigError(sorted(problems, key=lambda p: p.line or 0))


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _read(path: Path) -> tuple[str, Located]:
    file = _display(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError([Problem(file, None, "", "missing (no such file)")]) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError([Problem(file, None, "", "not UTF-8 text; save it as UTF-8")]) from exc
    except OSError as exc:
        raise ConfigError([Problem(file, None, "", f"cannot read: {exc.strerror}")]) from exc
    return file, read_yaml(text, file)


def load_file(model: type[Model], path: Path) -> Model:
    file, located = _read(path)
    return validate(model, located, file)


def load_rules(folder: str | os.PathLike[str] | None = None) -> ScoringRules:
    return load_file(ScoringRules, mappings_dir(folder) / SCORING_FILE)


def _mapping_with_notices(crm: str, folder: str | os.PathLike[str] | None) -> tuple[CrmMapping, list[Problem]]:
    path = mappings_dir(folder) / mapping_file(crm)
    mapping = load_file(CrmMapping, path)
    packaged = PACKAGED / mapping_file(crm)
    defaults = load_file(CrmMapping, packaged) if packaged.exists() and packaged != path.resolve() else None
    mapping, notices = complete_outputs(mapping, defaults)
    return mapping, [Problem(_display(path), None, "outputs", n) for n in notices]


def load_mapping(crm: str, folder: str | os.PathLike[str] | None = None) -> CrmMapping:
    """One CRM's mapping; an output the file lacks falls back to its default field, with a notice in the log."""
    mapping, notices = _mapping_with_notices(crm, folder)
    for notice in notices:
        log.warning("%s", notice)
    return mapping


def _rules_against(path: Path, mappings: dict[str, CrmMapping]) -> tuple[ScoringRules, list[Problem]]:
    """A rules file, and its rules that the given CRMs' mappings cannot satisfy (located in that file)."""
    file, located = _read(path)
    rules = validate(ScoringRules, located, file)
    return rules, rules_against(rules, file, located.lines, mappings)


def named_score_files(folder: str | os.PathLike[str] | None = None) -> dict[str, Path]:
    """Named score -> its `scoring.<name>.yaml` in the folder, by name (`scoring.calibrated.yaml` is not one)."""
    found = {}
    for path in sorted(mappings_dir(folder).glob(NAMED_SCORING_GLOB)):
        name = score_of(path.name)
        if name is not None:
            found[name] = path
    return found


def _named_against(name: str, path: Path, mappings: dict[str, CrmMapping]) -> tuple[ScoreDefinition, list[Problem]]:
    """A named score's file, validated, and what its rules and segment ask of the CRMs in use."""
    file, located = _read(path)
    problem = score_name_problem(name)
    if problem:
        raise ConfigError([Problem(file, None, "", f"{problem} (the name is the part between scoring. and .yaml)")])
    try:
        rules = validate(NamedScoringRules, located, file)
    except ConfigError as exc:
        if isinstance(located.data, dict) and SEGMENT not in located.data:
            # Most likely a copy of scoring.yaml kept aside (scoring.backup.yaml): say what the name means.
            message = (
                f"is required: {path.name} is the named score {name!r} and needs the records it applies to "
                f"(a copy kept aside: name it {name}.yaml.bak, or move it out of the folder)"
            )
            hint = Problem(file, None, SEGMENT, message)
            raise ConfigError([hint, *(p for p in exc.problems if p.field != SEGMENT)]) from None
        raise
    crossed = rules_against(rules, file, located.lines, mappings)
    crossed += segment_against(rules.segment, file, located.lines, mappings)
    return ScoreDefinition.of(name, rules), crossed


def load_named_score(name: str, path: Path) -> ScoreDefinition:
    """One named score's file on its own (calibrate, the console): validated, not checked against a mapping."""
    return _named_against(name, path, {})[0]


def _orphan_renames(mappings: dict[str, CrmMapping], names: Sequence[str], folder: Path) -> list[Problem]:
    """A mapping renaming the outputs of a score that has no file: a typo in either name."""
    problems = []
    for crm, mapping in mappings.items():
        for score in sorted(set(mapping.scores) - set(names)):
            file = _display(folder / mapping_file(crm))
            problems.append(
                Problem(file, None, f"scores.{score}", f"no {named_scoring_file(score)} beside it: fix either name")
            )
    return problems


def load_named_scores(
    folder: str | os.PathLike[str] | None, mappings: dict[str, CrmMapping]
) -> tuple[list[ScoreDefinition], dict[str, CrmMapping]]:
    """Every named score of a folder, checked against the mappings; the mappings writing them too."""
    problems: list[Problem] = []
    scores: list[ScoreDefinition] = []
    for name, path in named_score_files(folder).items():
        try:
            score, crossed = _named_against(name, path, mappings)
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        scores.append(score)
        problems.extend(crossed)
    names = [s.name for s in scores]
    problems.extend(_orphan_renames(mappings, list(named_score_files(folder)), mappings_dir(folder)))
    if problems:
        raise ConfigError(problems)
    return scores, {crm: mapping.with_scores(names) for crm, mapping in mappings.items()}


@dataclass(frozen=True)
class Config:
    """The default rules, the named scores and the mappings of the CRMs in use, checked against each other."""

    rules: ScoringRules
    scores: list[ScoreDefinition]
    mappings: dict[str, CrmMapping]


def load_scoring(crms: Iterable[str], folder: str | os.PathLike[str] | None = None) -> Config:
    """The rules, the named scores and the mappings of the CRMs in use; every problem at once."""
    problems: list[Problem] = []
    mappings: dict[str, CrmMapping] = {}
    for crm in crms:
        try:
            mappings[crm] = load_mapping(crm, folder)
        except ConfigError as exc:
            problems.extend(exc.problems)
    try:
        rules, crossed = _rules_against(mappings_dir(folder) / SCORING_FILE, mappings)
    except ConfigError as exc:
        raise ConfigError([*problems, *exc.problems]) from exc
    problems.extend(crossed)
    try:
        scores, mappings = load_named_scores(folder, mappings)
    except ConfigError as exc:
        problems.extend(exc.problems)
        scores = []
    if problems:
        raise ConfigError(problems)
    return Config(rules, scores, mappings)


def load_config(
    crms: Iterable[str], folder: str | os.PathLike[str] | None = None
) -> tuple[ScoringRules, dict[str, CrmMapping]]:
    """The rules and the mappings of the CRMs in use (writing the named scores too), checked against each other."""
    config = load_scoring(crms, folder)
    return config.rules, config.mappings


# ---------------------------------------------------------------------------- leadtherm check

# The CRMs whose mapping files are packaged; the CLI passes the installed adapters' names instead.
PACKAGED_CRMS = tuple(sorted(crm for p in PACKAGED.glob(FOLDER_GLOB) if (crm := crm_of(p.name)) is not None))


@dataclass(frozen=True)
class CheckReport:
    """What `leadtherm check` looked at and found."""

    checked: list[str]
    problems: list[Problem]
    warnings: list[Problem]
    skipped: list[str] = field(default_factory=list)  # YAML files beside them that leadtherm does not read


def rules_warnings(rules: ScoringRules, file: str) -> list[Problem]:
    """Valid but surely not meant: no rules at all scores every lead 0 (cold)."""
    if any(getattr(rules, section) for section in SECTION_KEYS):
        return []
    sections = ", ".join(SECTION_KEYS[:-1]) + f" or {SECTION_KEYS[-1]}"
    return [Problem(file, None, "", f"no rules in {sections}: every lead scores 0 (cold)")]


def _check(model: type[BaseModel], path: Path, report: CheckReport) -> None:
    report.checked.append(_display(path))
    score = score_of(path.name)
    try:
        loaded = load_file(model, path) if score is None else load_named_score(score, path).rules
    except ConfigError as exc:
        report.problems.extend(exc.problems)
        return
    if isinstance(loaded, ScoringRules):  # a named score's rules too
        report.warnings.extend(rules_warnings(loaded, _display(path)))


def _near_misses(base: Path, expected: str) -> list[str]:
    stem = Path(expected).stem
    return sorted(p.name for p in base.glob(f"{stem}.*") if p.name != expected and p.suffix in (".yml", ".YAML"))


def check_folder_report(
    folder: str | os.PathLike[str] | None = None,
    crms: Sequence[str] = PACKAGED_CRMS,
    in_use: Sequence[str] | None = None,
) -> CheckReport:
    """Check the files leadtherm reads from a folder: scoring.yaml and one `<crm>.yaml` per CRM."""
    base = mappings_dir(folder)
    report = CheckReport([], [], [])
    if not base.is_dir():
        report.problems.append(Problem(_display(base), None, "", "no such folder"))
        return report
    expected: list[tuple[type[BaseModel], str]] = [(ScoringRules, SCORING_FILE)]
    expected += [(CrmMapping, mapping_file(crm)) for crm in crms]
    expected += [(NamedScoringRules, path.name) for path in named_score_files(base).values()]
    if (base / COMPANY_RULES_FILE).is_file():  # optional: company / account scores
        expected.append((CompanyRules, COMPANY_RULES_FILE))
    for model, name in expected:
        path = base / name
        if path.is_file():
            _check(model, path, report)
            continue
        report.checked.append(_display(path))
        hint = ", ".join(_near_misses(base, name))
        message = f"missing (found {hint}: rename it to {name})" if hint else "missing (no such file)"
        report.problems.append(Problem(_display(path), None, "", message))
    read = {name for _, name in expected}
    report.skipped.extend(p.name for p in sorted(base.glob("*.y*ml")) if p.name not in read)
    _cross_check(base / SCORING_FILE, base, crms if in_use is None else in_use, report)
    for path in named_score_files(base).values():
        _cross_check(path, base, crms if in_use is None else in_use, report, notices=False)
    return report


def _cross_check(rules_path: Path, base: Path, crms: Sequence[str], report: CheckReport, notices: bool = True) -> None:
    """Rules against the CRM mappings beside them, and the outputs a copied mapping lacks (notices)."""
    mappings: dict[str, CrmMapping] = {}
    for crm in crms:
        if (base / mapping_file(crm)).is_file():
            try:
                mappings[crm], found = _mapping_with_notices(crm, base)
            except ConfigError:
                continue  # already reported by the file's own check
            if notices:
                report.warnings.extend(found)
    score = score_of(rules_path.name)
    try:
        if score is None:
            rules, crossed = _rules_against(rules_path, mappings)
        else:
            named, crossed = _named_against(score, rules_path, mappings)
            rules = named.rules
    except ConfigError:
        return  # already reported by the file's own check
    report.problems.extend(crossed)
    file, located = _read(rules_path)
    report.warnings.extend(rules_value_notices(rules, file, located.lines, mappings))


def _model_for(path: Path, crms: Sequence[str]) -> type[BaseModel]:
    """scoring*.yaml holds rules, `<crm>.yaml` a mapping; otherwise the content decides."""
    if score_of(path.name) is not None:
        return NamedScoringRules
    if path.name == COMPANY_RULES_FILE:
        return CompanyRules
    if path.name.startswith(Path(SCORING_FILE).stem):  # scoring.calibrated.yaml too
        return ScoringRules
    if path.stem in crms:
        return CrmMapping
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError, DocumentError):
        return ScoringRules  # load_file reports why it cannot be read
    return CrmMapping if isinstance(data, dict) and ("crm" in data or "attributes" in data) else ScoringRules


def check_file(path: Path, crms: Sequence[str] = PACKAGED_CRMS, in_use: Sequence[str] | None = None) -> CheckReport:
    """Check one file, a scoring file or a CRM mapping (`leadtherm check FILE`)."""
    report = CheckReport([], [], [])
    model = _model_for(path, crms)
    _check(model, path, report)
    if model in (ScoringRules, NamedScoringRules) and not report.problems:
        _cross_check(path, path.parent, crms if in_use is None else in_use, report)
    return report


def check_folder(folder: str | os.PathLike[str] | None = None, crms: Sequence[str] = PACKAGED_CRMS) -> list[Problem]:
    """Every problem in the files of a mapping folder (empty when all are valid)."""
    return check_folder_report(folder, crms).problems
