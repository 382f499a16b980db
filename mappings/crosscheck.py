"""Checks across files: rules against the CRM mappings in use, and outputs a copied mapping lacks."""

from __future__ import annotations

from collections.abc import Mapping

from mappings.catalogue import ATTRIBUTES, OUTPUT_BY_KEY
from mappings.errors import Problem
from mappings.schema import Condition, CrmMapping, Rule, ScoringRules

Lines = Mapping[tuple[str | int, ...], int]
SECTIONS = ("fit", "engagement", "penalties")


def rules_against(rules: ScoringRules, file: str, lines: Lines, mappings: Mapping[str, CrmMapping]) -> list[Problem]:
    """A rule on an attribute a CRM in use does not define, or whose kind its condition cannot test."""
    problems: list[Problem] = []
    for section in SECTIONS:
        for index, rule in enumerate(getattr(rules, section)):
            for at, condition in _located_conditions(rule, (section, index)):
                if condition.attribute is None or condition.attribute in ATTRIBUTES:
                    continue  # built-ins are known everywhere; an unmapped one is simply empty
                where = lines.get((*at, "attribute"), lines.get(at, lines.get((section, index))))
                field = _field(at) + ".attribute"
                for crm, mapping in sorted(mappings.items()):
                    attribute = mapping.attribute(condition.attribute)
                    if attribute is None:
                        message = (
                            f"rule {rule.label!r} tests {condition.attribute!r}, which the {crm} mapping does not "
                            f"define (declare it under custom_attributes in {crm}.yaml, or fix the name)"
                        )
                    elif (kind := condition.kind_problem(attribute.kind)) is not None:
                        message = f"rule {rule.label!r}: {kind} (as declared in {crm}.yaml)"
                    else:
                        continue
                    problems.append(Problem(file, where, field, message))
    return problems


def _located_conditions(rule: Rule, at: tuple[str | int, ...]) -> list[tuple[tuple[str | int, ...], Condition | Rule]]:
    """Each condition of a rule with its place in the file: the rule itself, or `all[j]` of a compound one."""
    if rule.all_ is None:
        return [(at, rule)]
    return [((*at, "all", j), condition) for j, condition in enumerate(rule.all_)]


def _field(at: tuple[str | int, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else p) for i, p in enumerate(at))


def complete_outputs(mapping: CrmMapping, defaults: CrmMapping | None) -> tuple[CrmMapping, list[str]]:
    """Fill the outputs a mapping does not mention from the packaged defaults; say which, for a notice.

    A folder copied before a release added an output stays valid: the new output gets its default
    field (an optional one stays off unless the defaults name it).
    """
    missing = mapping.missing_outputs
    if not missing:
        return mapping, []
    filled = dict(mapping.outputs)
    notices = []
    for key in missing:
        field = defaults.output_field(key) if defaults is not None else None
        filled[key] = field
        if field is not None:
            notices.append(f"output {key!r} is not in this file; writing it to the default field {field}")
        elif not OUTPUT_BY_KEY[key].optional:
            notices.append(f"output {key!r} is not in this file and has no default field; it is not written")
    return mapping.model_copy(update={"outputs": filled}), notices
