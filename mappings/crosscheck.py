"""Checks across files: rules against the CRM mappings in use, and outputs a copied mapping lacks."""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence

from mappings.catalogue import ATTRIBUTES, OUTPUT_BY_KEY
from mappings.errors import Problem
from mappings.grammar import ALL, IN, IS, SECTION_KEYS, SEGMENT, mapping_file
from mappings.schema import Condition, CrmMapping, Rule, ScoringRules

Lines = Mapping[tuple[str | int, ...], int]


def attribute_values(attribute: str, mappings: Mapping[str, CrmMapping]) -> tuple[str, ...] | None:
    """The values an attribute can hold where every mapping in use closes them; None where any is open.

    A seniority transform holds the values of its patterns; a `map` the values it maps onto (and
    its default); a built-in the catalogue knows the values of (a stage, a rep's rating) holds
    those. An attribute read as the CRM holds it can hold anything.
    """
    builtin = ATTRIBUTES.get(attribute)
    known = builtin.values if builtin is not None else ()
    values: list[str] = []
    used = False
    for mapping in mappings.values():
        source = mapping.sources().get(attribute)
        found = builtin or mapping.attribute(attribute)
        if source is None or found is None:
            continue
        if found.kind not in ("text", "stage"):
            return None
        used = True
        if source.transform == "seniority":
            values.extend(p.value for p in mapping.seniority)
        elif source.map is not None:
            values.extend(str(v) for v in source.map.values() if v is not None)
        elif known:
            values.extend(known)
        else:
            return None
        if source.default is not None:
            values.append(str(source.default))
    if not used:
        return known or None
    return tuple(dict.fromkeys(values)) or None


def unknown_value(value: object, attribute: str, known: tuple[str, ...]) -> tuple[str, bool] | None:
    """Why `value` is not one of an attribute's values, and whether it is close to one (a typo); None if it is one."""
    folded = {k.casefold(): k for k in known}
    if str(value).casefold() in folded:
        return None
    close = difflib.get_close_matches(str(value).casefold(), list(folded), n=1, cutoff=0.75)
    hint = f" (did you mean {folded[close[0]]}?)" if close else f" (known: {', '.join(known)})"
    label = ATTRIBUTES[attribute].label.lower() if attribute in ATTRIBUTES else attribute
    article = "an" if label[:1] in "aeiou" else "a"
    return f"{value} is not {article} {label} value{hint}", bool(close)


def _values_against(
    condition: Condition | Rule, mappings: Mapping[str, CrmMapping]
) -> list[tuple[int | None, str, bool]]:
    """Each value of an `is` or `in` that the attribute never holds: (its place in `in`, why, a typo)."""
    if condition.attribute is None:
        return []
    known = attribute_values(condition.attribute, mappings)
    if known is None:
        return []
    given: list[tuple[int | None, object]] = [(None, condition.is_)] if condition.is_ is not None else []
    given += list(enumerate(condition.in_ or []))
    attribute = condition.attribute
    return [(i, *why) for i, value in given if (why := unknown_value(value, attribute, known)) is not None]


def _value_problems(
    rules: ScoringRules, file: str, lines: Lines, mappings: Mapping[str, CrmMapping], refused: bool
) -> list[Problem]:
    problems: list[Problem] = []
    for section in SECTION_KEYS:
        for index, rule in enumerate(getattr(rules, section)):
            for at, condition in _located_conditions(rule, (section, index)):
                unknown = _values_against(condition, mappings)
                tested = 1 if condition.is_ is not None else len(condition.in_ or [])
                matches_nobody = bool(unknown) and len(unknown) == tested
                # Refused: a rule that matches nobody and has a typo. Noted: a rule that matches nobody
                # (its values may be another CRM's: the packaged rules serve both), and typos beside good
                # values. A value close to none, beside good ones, is likely another CRM's: not mentioned.
                if matches_nobody:
                    shown = unknown if any(typo for _, _, typo in unknown) == refused else []
                else:
                    shown = [] if refused else [u for u in unknown if u[2]]
                for position, why, _ in shown:
                    key = (*at, IS) if position is None else (*at, IN, position)
                    where = lines.get(key, lines.get(at, lines.get((section, index))))
                    field = _field(at) + (f".{IS}" if position is None else f".{IN}[{position}]")
                    problems.append(Problem(file, where, field, f"rule {rule.label!r}: {why}"))
    return problems


def rules_value_problems(
    rules: ScoringRules, file: str, lines: Lines, mappings: Mapping[str, CrmMapping]
) -> list[Problem]:
    """A rule that matches nobody for a typo (`is: executiv` on seniority): refused, with a "did you mean"."""
    return _value_problems(rules, file, lines, mappings, refused=True)


def rules_value_notices(
    rules: ScoringRules, file: str, lines: Lines, mappings: Mapping[str, CrmMapping]
) -> list[Problem]:
    """A rule that matches nobody with values close to none (another CRM's?), and typos beside good values."""
    return _value_problems(rules, file, lines, mappings, refused=False)


def rules_against(rules: ScoringRules, file: str, lines: Lines, mappings: Mapping[str, CrmMapping]) -> list[Problem]:
    """A rule on an attribute a CRM in use does not define, whose kind its condition cannot test, or on a value
    its attribute never holds."""
    problems: list[Problem] = rules_value_problems(rules, file, lines, mappings)
    for section in SECTION_KEYS:
        for index, rule in enumerate(getattr(rules, section)):
            for at, condition in _located_conditions(rule, (section, index)):
                if condition.attribute is None or condition.attribute in ATTRIBUTES:
                    continue  # built-ins are known everywhere; an unmapped one is simply empty
                where = lines.get((*at, "attribute"), lines.get(at, lines.get((section, index))))
                field = _field(at) + ".attribute"
                for message in _undefined_or_mistyped(condition, f"rule {rule.label!r}", mappings):
                    problems.append(Problem(file, where, field, message))
    return problems


def _undefined_or_mistyped(condition: Condition | Rule, tester: str, mappings: Mapping[str, CrmMapping]) -> list[str]:
    """Per CRM in use: the condition's attribute is missing from its mapping, or of a kind it cannot test."""
    messages: list[str] = []
    for crm, mapping in sorted(mappings.items()):
        attribute = mapping.attribute(condition.attribute or "")
        if attribute is None:
            messages.append(
                f"{tester} tests {condition.attribute!r}, which the {crm} mapping does not define "
                f"(declare it under custom_attributes in {mapping_file(crm)}, or fix the name)"
            )
        elif (kind := condition.kind_problem(attribute.kind)) is not None:
            messages.append(f"{tester}: {kind} (as declared in {mapping_file(crm)})")
    return messages


def segment_against(
    segment: Sequence[Condition], file: str, lines: Lines, mappings: Mapping[str, CrmMapping]
) -> list[Problem]:
    """A named score's segment condition on an attribute a CRM in use does not define, cannot test, or on a value
    it never holds (a typo): a segment that holds for nobody would leave the score silently empty."""
    problems: list[Problem] = []
    base: tuple[str, ...] = (SEGMENT, ALL) if (SEGMENT, ALL) in lines else (SEGMENT,)  # `segment: {all: [...]}`
    for index, condition in enumerate(segment):
        at: tuple[str | int, ...] = (*base, index)
        where = lines.get((*at, "attribute"), lines.get(at))
        for _, why, typo in _values_against(condition, mappings):
            if typo:
                problems.append(Problem(file, where, _field(at), f"segment: {why}"))
        if condition.attribute in ATTRIBUTES:
            continue
        for message in _undefined_or_mistyped(condition, "segment", mappings):
            problems.append(Problem(file, where, _field(at) + ".attribute", message))
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
