"""Inter-rater reliability chosen by the rating design: ICC where it is fully crossed, alpha otherwise.

The two-way ICC models a rater effect that is the same for every target, which is estimable only when the
same raters rated every target (a fully crossed design; Shrout & Fleiss 1979; McGraw & Wong 1996). When
different targets were rated by different raters, numbering each target's raters 1, 2, 3 ("slots") and
fitting the two-way model treats unrelated people as one rater: a design no textbook describes. Then
Krippendorff's alpha (interval), which needs no rater identity and allows any number of ratings per target
(Krippendorff 2011), is used instead. Pure module: numpy, pandas and scipy only, no Django.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from stats.agreement.estimate import Estimate, _is_missing, _is_number, _join, _plural
from stats.agreement.icc import icc
from stats.agreement.krippendorff import krippendorff_alpha_of_units

ALPHA_INTERVAL = "alpha (interval)"


@dataclass(frozen=True)
class ReliabilityByDesign:
    """The inter-rater reliability that suits the design of the ratings.

    ``design`` is "crossed" (every rater rated every target: ``estimates`` holds the six ICC forms keyed as
    ``icc`` keys them) or "not crossed" (``estimates`` holds Krippendorff's alpha under ``"alpha (interval)"``).
    ``reason`` says why, with the counts; it is also in every estimate's note.
    """

    design: Literal["crossed", "not crossed"]
    reason: str
    estimates: dict[str, Estimate]
    n_targets: int
    n_raters: int


def reliability_by_design(
    rows: Iterable[tuple[Hashable, Hashable, Any]], *, seed: int = 0, n_boot: int = 1000
) -> ReliabilityByDesign:
    """ICC forms when the (target, rater, rating) rows are fully crossed, Krippendorff's alpha otherwise.

    Fully crossed: at least 2 raters and 2 targets, and every rater gave at least one rating to every target
    (repeated ratings of a target by one rater are averaged by ``icc``, which says so). Otherwise the ratings
    of each target form one unit of ``krippendorff_alpha_of_units(level="interval")``, the raters' identities
    unused. Rows whose rating is missing are ignored; ratings must be numbers.
    """
    kept: list[tuple[Hashable, Hashable, float]] = []
    for position, row in enumerate(rows):
        if len(row) != 3:
            raise ValueError(f"row {position} must be (target, rater, rating), got {row!r}")
        target, rater, rating = row
        if _is_missing(target) or _is_missing(rater):
            raise ValueError(f"row {position} has no target or rater identifier: {row!r}")
        if _is_missing(rating):
            continue
        if not _is_number(rating):
            raise ValueError(f"row {position}: ratings must be numbers, got {rating!r}")
        kept.append((target, rater, float(rating)))
    targets = list(dict.fromkeys(target for target, _, _ in kept))
    raters = list(dict.fromkeys(rater for _, rater, _ in kept))
    rated_pairs = {(target, rater) for target, rater, _ in kept}
    missing_pairs = len(targets) * len(raters) - len(rated_pairs)
    crossed = len(targets) >= 2 and len(raters) >= 2 and missing_pairs == 0
    counts = f"{_plural(len(targets), 'target')}, {_plural(len(raters), 'rater')}"
    if crossed:
        reason = f"fully crossed design ({counts}; every rater rated every target): two-way ICC"
        frame = pd.DataFrame(kept, columns=["target", "rater", "rating"])
        estimates = icc(frame, targets="target", raters="rater", ratings="rating")
    else:
        if len(raters) < 2:
            why = "fewer than 2 raters"
        elif len(targets) < 2:
            why = "fewer than 2 targets"
        else:
            why = (
                f"{_plural(missing_pairs, 'target-rater pair')} of {len(targets) * len(raters)} unrated, "
                "so raters differ between targets"
            )
        reason = (
            f"not fully crossed ({counts}; {why}): Krippendorff's alpha (interval) over targets, "
            "no ICC over invented rater slots"
        )
        units: dict[Hashable, list[float]] = {target: [] for target in targets}
        for target, _, rating in kept:
            units[target].append(rating)
        estimates = {
            ALPHA_INTERVAL: krippendorff_alpha_of_units(
                list(units.values()), level="interval", seed=seed, n_boot=n_boot
            )
        }
    annotated = {
        name: dataclasses.replace(estimate, note=_join(reason, estimate.note))
        for name, estimate in estimates.items()
    }
    return ReliabilityByDesign(
        "crossed" if crossed else "not crossed", reason, annotated, len(targets), len(raters)
    )
