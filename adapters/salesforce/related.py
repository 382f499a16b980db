"""Objects whose changes re-score the records linked to them: an Opportunity and the Contacts converted with it.

A Contact made by converting a Lead reads the stage of the Opportunity created with it
(`ConvertedOpportunity.IsWon` and the like in the mapping), so winning that Opportunity must
re-score the Contact, though nothing on the Contact itself changed.
"""

from __future__ import annotations

from collections.abc import Iterable

RELATED_OBJECTS = ("Opportunity",)
CONVERSION = "ConvertedOpportunity."  # how a Lead's (and so its Contact's) mapping reads its Opportunity


def opportunity_fields(read_fields: Iterable[str]) -> frozenset[str]:
    """The Opportunity fields a mapping reads through the conversion: a change to another one changes no score."""
    return frozenset(f.removeprefix(CONVERSION) for f in read_fields if f.startswith(CONVERSION))


def accepted_objects(objects: Iterable[str]) -> tuple[str, ...]:
    """The mapped objects and the related ones: what an outbound message or a callout may name."""
    return tuple(dict.fromkeys([*objects, *RELATED_OBJECTS]))
