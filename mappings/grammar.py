"""The grammar of the admin's files, declared once: their names, the rule sections and the conditions.

The catalogue (`mappings.catalogue`) declares what a rule may test and what leadtherm writes;
this module declares how the files are named and spelled. The schema, the loader, the cross
checks, scoring, calibrate and the console read these names rather than spelling them again
(tests/test_grammar.py holds every other module to that).
"""

from __future__ import annotations

from dataclasses import dataclass

# ---------------------------------------------------------------------------- files

SCORING_FILE = "scoring.yaml"
SUFFIX = ".yaml"  # every file of a rules folder; a CRM's mapping is `<crm>.yaml`
FOLDER_GLOB = f"*{SUFFIX}"


def mapping_file(crm: str) -> str:
    """The name of a CRM's mapping file (`hubspot` -> `hubspot.yaml`)."""
    return f"{crm}{SUFFIX}"


ALL = "all"  # a compound rule's conditions, and a segment's: every one must hold
SEGMENT = "segment"  # the key of a named score's segment (mappings.schema.NamedScoringRules)
NAMED_SCORING_GLOB = f"scoring.*{SUFFIX}"  # `scoring.<name>.yaml`: a named score's rules and segment


def named_scoring_file(score: str) -> str:
    """The file of a named score's rules (`analytics` -> `scoring.analytics.yaml`)."""
    return f"scoring.{score}{SUFFIX}"


def calibrated_file(score: str) -> str:
    """Where `calibrate --score` writes a named score's learned rules (not itself read as a named score)."""
    return f"scoring.{score}.calibrated{SUFFIX}"


# Company / account scores: the `company:` section of a CRM mapping and their rules in `scoring.company.yaml`
# (mappings.company). "company" is therefore no named score's name.
COMPANY = "company"
COMPANY_RULES_FILE = named_scoring_file(COMPANY)


def score_of(file: str) -> str | None:
    """The named score a file name holds (`scoring.analytics.yaml` -> `analytics`), or None for any other file."""
    if not file.startswith("scoring.") or not file.endswith(SUFFIX) or file == SCORING_FILE:
        return None
    name = file.removeprefix("scoring.").removesuffix(SUFFIX)
    return None if "." in name or name in ("calibrated", COMPANY) else name


def crm_of(file: str) -> str | None:
    """The CRM whose mapping a file name holds, or None for the scoring rules and other files."""
    if file == SCORING_FILE or not file.endswith(SUFFIX) or file.startswith("scoring."):
        return None
    return file.removesuffix(SUFFIX)


# ---------------------------------------------------------------------------- rule sections


@dataclass(frozen=True, slots=True)
class Section:
    """One list of rules in scoring.yaml."""

    key: str  # as scoring.yaml spells it (a field of `ScoringRules`)
    label: str  # one of its rules, as a reason names its axis ("a penalty")


FIT = Section("fit", "fit")
ENGAGEMENT = Section("engagement", "engagement")
PENALTIES = Section("penalties", "penalty")
SECTIONS: tuple[Section, ...] = (FIT, ENGAGEMENT, PENALTIES)
SECTION_KEYS: tuple[str, ...] = tuple(s.key for s in SECTIONS)

# ---------------------------------------------------------------------------- conditions

IS = "is"  # equality (booleans, exact values)
IN = "in"  # one of, case-insensitive
MATCHES = "matches"  # a regular expression on text
AT_LEAST = "at_least"  # a numeric range's inclusive lower bound
BELOW = "below"  # a numeric range's exclusive upper bound
DAYS_AGO = "days_ago"  # a date's age in days, a range of AT_LEAST / BELOW
PRESENT = "present"  # has a value
EACH = "each"  # points for every `each` units of a counter
MAX_POINTS = "max_points"  # the cap of an EACH rule: a modifier, not a condition
# In the order the schema lists them and calibrate writes them.
CONDITIONS: tuple[str, ...] = (IS, IN, MATCHES, AT_LEAST, BELOW, DAYS_AGO, PRESENT, EACH)
NUMERIC_CONDITIONS: tuple[str, ...] = (AT_LEAST, BELOW, EACH)  # their values are numbers

__all__ = [
    "ALL",
    "AT_LEAST",
    "BELOW",
    "COMPANY",
    "COMPANY_RULES_FILE",
    "CONDITIONS",
    "DAYS_AGO",
    "EACH",
    "ENGAGEMENT",
    "FIT",
    "FOLDER_GLOB",
    "IN",
    "IS",
    "MATCHES",
    "MAX_POINTS",
    "NAMED_SCORING_GLOB",
    "NUMERIC_CONDITIONS",
    "PENALTIES",
    "PRESENT",
    "SCORING_FILE",
    "SECTIONS",
    "SECTION_KEYS",
    "SEGMENT",
    "SUFFIX",
    "Section",
    "calibrated_file",
    "crm_of",
    "mapping_file",
    "named_scoring_file",
    "score_of",
]
