"""Load and validate the admin's YAML files, reporting every problem with file, line and field."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from mappings.crosscheck import complete_outputs, rules_against
from mappings.errors import ConfigError, Problem
from mappings.schema import CrmMapping, ScoringRules

log = logging.getLogger("leadtherm.mappings")

PACKAGED = Path(__file__).resolve().parent
Model = TypeVar("Model", bound=BaseModel)
Location = tuple[str | int, ...]


def mappings_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The mapping folder: an explicit one, `LEADTHERM_MAPPINGS`, or the packaged defaults."""
    chosen = override or os.environ.get("LEADTHERM_MAPPINGS")
    return Path(chosen) if chosen else PACKAGED


@dataclass(frozen=True)
class Located:
    """Parsed YAML data and the line on which each key or list item starts."""

    data: Any
    lines: dict[Location, int]


def _located(node: yaml.Node, path: Location, lines: dict[Location, int]) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = yaml.safe_load(yaml.serialize(key_node)) if key_node.tag else key_node.value
            lines[(*path, key)] = key_node.start_mark.line + 1
            result[key] = _located(value_node, (*path, key), lines)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_located(item, (*path, i), lines) for i, item in enumerate(node.value)]
    return yaml.safe_load(yaml.serialize(node))


def read_yaml(text: str, file: str) -> Located:
    """Parse YAML keeping line numbers; a syntax error becomes a located problem."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([Problem(file, line, "", f"not valid YAML: {reason}")]) from exc
    lines: dict[Location, int] = {}
    data = _located(node, (), lines) if node is not None else {}
    return Located(data, lines)


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


def _problem(error: ErrorDetails, file: str, lines: dict[Location, int]) -> Problem:
    # pydantic adds the union member or validator name to some locations; drop what is not data.
    loc: Location = tuple(p for p in error["loc"] if not (isinstance(p, str) and "[" in p))
    message = _FRIENDLY.get(error["type"]) or error["msg"].removeprefix("Value error, ")
    if error["type"] in ("float_parsing", "int_parsing", "bool_parsing"):
        message += f" (got {error.get('input')!r})"
    return Problem(file, _line_for(loc, lines), _field_name(loc), message)


def validate(model: type[Model], located: Located, file: str) -> Model:
    """Validate parsed data against a schema, collecting every error as a located problem."""
    try:
        return model.model_validate(located.data)
    except ValidationError as exc:
        raise ConfigError([_problem(e, file, located.lines) for e in exc.errors()]) from exc


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _read(path: Path) -> tuple[str, Located]:
    file = _display(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([Problem(file, None, "", f"cannot read: {exc.strerror}")]) from exc
    return file, read_yaml(text, file)


def load_file(model: type[Model], path: Path) -> Model:
    file, located = _read(path)
    return validate(model, located, file)


def load_rules(folder: str | os.PathLike[str] | None = None) -> ScoringRules:
    return load_file(ScoringRules, mappings_dir(folder) / "scoring.yaml")


def _mapping_with_notices(crm: str, folder: str | os.PathLike[str] | None) -> tuple[CrmMapping, list[Problem]]:
    path = mappings_dir(folder) / f"{crm}.yaml"
    mapping = load_file(CrmMapping, path)
    packaged = PACKAGED / f"{crm}.yaml"
    defaults = load_file(CrmMapping, packaged) if packaged.exists() and packaged != path.resolve() else None
    mapping, notices = complete_outputs(mapping, defaults)
    return mapping, [Problem(_display(path), None, "outputs", n) for n in notices]


def load_mapping(crm: str, folder: str | os.PathLike[str] | None = None) -> CrmMapping:
    """One CRM's mapping; an output the file lacks falls back to its default field, with a notice in the log."""
    mapping, notices = _mapping_with_notices(crm, folder)
    for notice in notices:
        log.warning("%s", notice)
    return mapping


def load_config(
    crms: Iterable[str], folder: str | os.PathLike[str] | None = None
) -> tuple[ScoringRules, dict[str, CrmMapping]]:
    """The rules and the mappings of the CRMs in use, checked against each other; every problem at once."""
    problems: list[Problem] = []
    mappings: dict[str, CrmMapping] = {}
    for crm in crms:
        try:
            mappings[crm] = load_mapping(crm, folder)
        except ConfigError as exc:
            problems.extend(exc.problems)
    path = mappings_dir(folder) / "scoring.yaml"
    try:
        file, located = _read(path)
        rules = validate(ScoringRules, located, file)
    except ConfigError as exc:
        raise ConfigError([*problems, *exc.problems]) from exc
    problems.extend(rules_against(rules, file, located.lines, mappings))
    if problems:
        raise ConfigError(problems)
    return rules, mappings


def check_folder(folder: str | os.PathLike[str] | None = None) -> list[Problem]:
    """Every problem in every file of a mapping folder (empty when all are valid)."""
    base = mappings_dir(folder)
    problems: list[Problem] = []
    crms = [p.stem for p in sorted(base.glob("*.yaml")) if p.name != "scoring.yaml"]
    mappings: dict[str, CrmMapping] = {}
    for crm in crms:
        try:
            mappings[crm], _ = _mapping_with_notices(crm, base)
        except ConfigError as exc:
            problems.extend(exc.problems)
    try:
        file, located = _read(base / "scoring.yaml")
        rules = validate(ScoringRules, located, file)
        problems.extend(rules_against(rules, file, located.lines, mappings))
    except ConfigError as exc:
        problems.extend(exc.problems)
    return problems


def check_notices(folder: str | os.PathLike[str] | None = None) -> list[Problem]:
    """What `check` mentions without failing: outputs a copied mapping lacks, filled from the defaults."""
    base = mappings_dir(folder)
    notices: list[Problem] = []
    for path in sorted(base.glob("*.yaml")):
        if path.name != "scoring.yaml":
            try:
                notices.extend(_mapping_with_notices(path.stem, base)[1])
            except ConfigError:
                continue
    return notices
