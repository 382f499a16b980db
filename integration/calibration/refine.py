"""Finer quantile bins for the numbers that carry much of a first fit: a strong signal deserves a fine step."""

from __future__ import annotations

from collections.abc import Sequence

from integration.calibration.features import Feature, Group
from integration.calibration.points import reach

STRONG_SHARE = 0.2  # a number whose bins span this share of the model's whole range is a strong signal
FINE_BINS = 10
LEADS_PER_FINE_BIN = 100  # below this a finer cut learns noise, not shape


def finer_bins(coefficients: Sequence[float], features: Sequence[Feature], leads: int) -> dict[str, int]:
    """Attribute -> bins for the binned numbers whose span in a first fit is a large share of the whole."""
    low, high = reach(coefficients, features)
    whole = high - low
    bins = min(FINE_BINS, leads // LEADS_PER_FINE_BIN)
    if whole <= 0 or bins <= 0:
        return {}
    groups: dict[str, list[int]] = {}
    for j, feature in enumerate(features):
        if feature.combine is not Group.INDEPENDENT and feature.rule.at_least is not None:
            groups.setdefault(feature.group, []).append(j)
    found = {}
    for name, members in groups.items():
        part_low, part_high = reach([coefficients[j] for j in members], [features[j] for j in members])
        if part_high - part_low >= STRONG_SHARE * whole and bins > len(members):
            found[name] = bins
    return found
