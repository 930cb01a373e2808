"""A study's analysis plan as a document: built from plain data, written as canonical JSON, hashed, and
compared with the plan the data would produce now.

The canonical JSON has sorted keys, no insignificant whitespace, non-ASCII characters kept as written and
floats as Python's shortest round-tripping ``repr``, so the same plan always gives the same SHA-256 whatever
the order its dicts were built in. Pure: nothing here touches the database.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

PLAN_VERSION = "hvae-preregistration/2"

STATISTICS: tuple[tuple[str, str], ...] = (
    ("cell mean angle, value rationality, angular deviation", "Student t interval"),
    ("category hit rate and other proportions", "Wilson score interval"),
    ("prompt-variant differences", "Welch t interval; p Holm-adjusted"),
    (
        "repeated-trial spread within one design: SD of the angle, modal-category share, agreement of two trials",
        "chi-square interval; Wilson score interval; percentile bootstrap over trials",
    ),
    ("test-retest of identical designs", "ICC(A,1) and Pearson r of cell means; Fisher z"),
    (
        "every human-validation statistic per induced value and pooled over values, over all raters and over "
        "the raters passing the gold screen, per arm (arms never pooled)",
        "as for each statistic below",
    ),
    ("Cohen's kappa unweighted, linear and quadratic, automated vs human majority", "percentile bootstrap"),
    ("Gwet's AC1", "AC1 +/- 1.96 SE, Gwet's (2008) variance"),
    ("PABAK and accuracy", "Wilson score interval mapped through the statistic"),
    ("Lin's concordance correlation, automated vs human angle", "Fisher z, Lin's asymptotic variance"),
    ("ICC(A,1), automated vs human mean angle", "F-based interval (McGraw & Wong 1996)"),
    (
        "Bland-Altman bias, limits of agreement and proportional-bias slope",
        "t intervals (Bland & Altman 1999)",
    ),
    ("Spearman, served-the-value rating vs value rationality", "Fisher z"),
    (
        "among raters: ICC forms when fully crossed, else Krippendorff's alpha (nominal, ordinal, interval)",
        "ICC F-based intervals; alpha percentile bootstrap over units",
    ),
)
"""The statistics the study report computes and how each one's 95% CI is obtained."""


@dataclass(frozen=True)
class Deviation:
    """One difference between the registered plan and the current one: ``path`` names the field
    (``"exclusion.batches[0].gold_fail_threshold"``); a value absent on one side is None."""

    path: str
    registered: Any
    current: Any

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "registered": self.registered, "current": self.current}


def plan_document(
    *,
    study_id: int,
    study_name: str,
    batches: Sequence[Mapping[str, Any]],
    include_flagged_by_default: bool,
    designs: Sequence[Mapping[str, Any]],
    report_version: str,
    definitions_version: str,
    bootstrap_seed: int,
    n_boot: int,
) -> dict[str, Any]:
    """The analysis plan of a study as a JSON-ready dict.

    ``batches``: each annotation batch's sampling design (``batch``, ``size``, ``overlap``, ``seed``,
    ``gold``, ``tasks_per_rater``, ``gold_fail_threshold``, ``sampling_spec`` and any further design
    field); ``designs``: the runs' designs (model, value, strategy, variant, order, labels, temperature,
    items, definitions), duplicates collapsed and sorted so the plan does not depend on run order.
    """
    ordered_batches = sorted((dict(batch) for batch in batches), key=lambda b: int(b["batch"]))
    screening = ("gold_fail_threshold", "gold_min_answered")
    sampling = [
        {key: value for key, value in batch.items() if key not in screening} for batch in ordered_batches
    ]
    unique = {canonical_json(dict(design)): dict(design) for design in designs}
    return {
        "plan_version": PLAN_VERSION,
        "study": {"id": study_id, "name": study_name},
        "sampling": sampling,
        "exclusion": {
            "include_flagged_by_default": include_flagged_by_default,
            "rule": "raters whose accuracy on gold items (labelled by researchers or by construction, never "
            "by the metric; an unclear answer is a miss) is below the batch's gold_fail_threshold after "
            "gold_min_answered gold answers are flagged; every statistic is reported over all raters and over "
            "the raters passing this screen, side by side (include_flagged only picks the one the figures "
            "use); raters marked excluded are always left out",
            "batches": [
                {
                    "batch": batch["batch"],
                    "gold": batch.get("gold"),
                    "gold_per_rater": batch.get("gold_per_rater"),
                    "gold_min_answered": batch.get("gold_min_answered"),
                    "gold_fail_threshold": batch.get("gold_fail_threshold"),
                }
                for batch in ordered_batches
            ],
        },
        "statistics": {
            "report_version": report_version,
            "definitions_version": definitions_version,
            "confidence_level": 0.95,
            "methods": [{"name": name, "ci": ci} for name, ci in STATISTICS],
        },
        "seeds": {
            "bootstrap_seed": bootstrap_seed,
            "n_boot": n_boot,
            "batch_seeds": [batch.get("seed") for batch in ordered_batches],
        },
        "designs": [unique[key] for key in sorted(unique)],
    }


def _canonical(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(key): _canonical(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"a plan holds only finite numbers, not {value!r}")
    return value


def canonical_json(plan: Mapping[str, Any]) -> str:
    """The plan as one canonical JSON text: sorted keys, ``,`` and ``:`` separators, floats as ``repr``."""
    return json.dumps(
        _canonical(plan), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def plan_hash(plan: Mapping[str, Any]) -> str:
    """The SHA-256 (hex) of the plan's canonical JSON."""
    return hashlib.sha256(canonical_json(plan).encode("utf-8")).hexdigest()


def _walk(path: str, registered: Any, current: Any, found: list[Deviation]) -> None:
    if isinstance(registered, Mapping) and isinstance(current, Mapping):
        for key in sorted(set(registered) | set(current), key=str):
            child = f"{path}.{key}" if path else str(key)
            _walk(child, registered.get(key), current.get(key), found)
        return
    if isinstance(registered, list) and isinstance(current, list):
        for index in range(max(len(registered), len(current))):
            _walk(
                f"{path}[{index}]",
                registered[index] if index < len(registered) else None,
                current[index] if index < len(current) else None,
                found,
            )
        return
    if not _same(registered, current):
        found.append(Deviation(path or "(plan)", registered, current))


def _same(registered: Any, current: Any) -> bool:
    """Equal values of the same kind (``1`` and ``1.0`` are the same number; ``True`` and ``1`` differ)."""
    if registered != current:
        return False
    if type(registered) is type(current):
        return True
    numbers = (int, float)
    return (
        isinstance(registered, numbers)
        and isinstance(current, numbers)
        and not isinstance(registered, bool)
        and not isinstance(current, bool)
    )


def deviations(registered: Mapping[str, Any], current: Mapping[str, Any]) -> list[Deviation]:
    """Every leaf where the current plan differs from the registered one, in path order (dict keys
    sorted, list items by index); an empty list means the analysis follows the plan."""
    found: list[Deviation] = []
    _walk("", _canonical(registered), _canonical(current), found)
    return found
