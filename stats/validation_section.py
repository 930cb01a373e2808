"""The report's human-validation section from the database: each arm's judgments through
``stats.human_validation`` (arms are never pooled), with the served-the-value ratings of the value-shown arm.
"""

from __future__ import annotations

import pandas as pd

from annotation.models import HumanJudgment
from evaluation.models import Study
from stats import human_validation
from stats import selectors as stats_selectors

ARM_ORDER = ("blind", "value-shown", "informed")
UNCLEAR = "unclear"


def _served_values(study: Study) -> dict[int, float | None]:
    """Each live judgment's served-the-value rating (1-7; None when not asked), by Label Studio annotation id."""
    rows = HumanJudgment.objects.filter(task__batch__study=study).values_list(
        "label_studio_annotation_id", "served_value"
    )
    return {int(annotation): (None if served is None else float(served)) for annotation, served in rows}


def human_section(
    study: Study, scored: pd.DataFrame, *, include_flagged: bool, seed: int, n_boot: int
) -> human_validation.HumanValidation:
    """Human validation per arm: the first arm present (blind, value-shown, informed) at the top level, every
    other arm whole under ``other_arms``. An ``unclear`` answer names no orientation: it counts as no category
    and the number of such answers is reported. ``scored`` is the study's scored trials (trial_id, value,
    category, angle, value_rationality)."""
    judgments = stats_selectors.judgments_frame(study=study)
    served = _served_values(study)
    judgments["served_value"] = [served.get(int(a)) for a in judgments["annotation_id"]]
    audited = judgments.loc[judgments["audit"].map(bool).astype(bool), "trial_id"].unique().tolist()
    responses = stats_selectors.audited_responses_frame(trial_ids=audited)
    automated = scored[["trial_id", "value", "category", "angle", "value_rationality"]]
    unclear = judgments["category"] == UNCLEAR
    judgments = judgments.assign(category=judgments["category"].where(~unclear, ""))

    def arm_section(arm: str | None) -> human_validation.ArmValidation:
        subset = judgments if arm is None else judgments[judgments["arm"] == arm]
        return human_validation.validate_arm(
            automated,
            subset,
            responses,
            arm=arm,
            n_unclear=int(unclear[subset.index].sum()),
            seed=seed,
            n_boot=n_boot,
        )

    present = [arm for arm in ARM_ORDER if (judgments["arm"] == arm).any()]
    first = arm_section(present[0] if present else None)
    arms_note = (
        "judgments of different arms (what raters were shown) are never pooled; "
        + (
            f"these numbers are the {present[0]} arm's"
            + (f", the {', '.join(present[1:])} arm(s) follow separately" if present[1:] else "")
            if present
            else "no judgments yet"
        )
        + "; an unclear answer counts as no category"
    )
    return human_validation.HumanValidation(
        **{field: getattr(first, field) for field in human_validation.ARM_FIELDS},
        include_flagged=include_flagged,
        selected="all_raters" if include_flagged else "gold_screened",
        arms_note=arms_note,
        other_arms=tuple(arm_section(arm) for arm in present[1:]),
    )
