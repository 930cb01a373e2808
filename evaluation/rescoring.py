"""Recompute a study's stored trial scores under named SVO definitions, from the stored choices.

A trial's scores are a pure function of its induced value, its extracted options and the definitions
(``evaluation.svo``), so a study run under superseded definitions can be brought to current ones, or an old
report reproduced, without asking any model again. Idempotent: rescoring twice changes nothing the second
time.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from evaluation import svo
from evaluation.models import EvaluationRun, ItemResponse, Study, Trial
from hvae_site.api import DomainError

logger = logging.getLogger(__name__)

SCORE_FIELDS: tuple[str, ...] = (
    "angle",
    "category",
    "mean_self",
    "mean_other",
    "transitive",
    "target_angle",
    "angular_deviation",
    "value_rationality",
    "category_hit",
    "inequality_aversion",
)
"""The trial fields a rescore recomputes (every stored score)."""


@dataclass(frozen=True)
class RescoreResult:
    definitions: str
    trials_seen: int
    """Scored trials of the study."""
    trials_changed: int
    """Trials with at least one score that differs under ``definitions``."""
    cells_changed: int
    """Report cells (model, value, strategy and the run's design) with at least one changed trial."""
    runs_updated: int
    """Runs whose ``definitions_version`` was another name before."""


def score_fields(score: svo.ValueScore) -> dict[str, Any]:
    """A trial's stored score fields from its ``ValueScore``."""
    return {
        "angle": score.primary.angle,
        "category": score.primary.category,
        "mean_self": score.primary.mean_self,
        "mean_other": score.primary.mean_other,
        "transitive": score.primary.transitive,
        "target_angle": score.target_angle,
        "angular_deviation": score.angular_deviation,
        "value_rationality": score.value_rationality,
        "category_hit": score.category_hit,
        "inequality_aversion": score.secondary.inequality_aversion if score.secondary else None,
    }


def cell_of(run: EvaluationRun) -> Hashable:
    """The report cell a run's trials belong to: model, value, strategy and every design factor but the
    definitions (which a rescore makes the same for the whole study)."""
    return (
        run.model,
        run.value,
        run.strategy,
        run.prompt_variant,
        run.option_order,
        run.option_labels,
        run.temperature,
        run.item_set,
    )


@transaction.atomic
def study_rescore(*, study: Study, definitions: str = svo.DEFINITIONS_VERSION) -> RescoreResult:
    """Recompute every scored trial of ``study`` under ``definitions`` and record them on each run.

    Uses only the stored extracted options: no LLM call. Refuses (DomainError, nothing saved) unknown
    definitions, a study with a run in progress (its worker would go on scoring under the old definitions), and
    a scored trial whose stored choices cannot be scored.
    """
    try:
        svo.definitions_of(definitions)
    except ValueError as exc:
        raise DomainError(str(exc), field="definitions") from exc
    runs = {run.pk: run for run in EvaluationRun.objects.select_for_update().filter(study=study)}
    running = sorted(pk for pk, run in runs.items() if run.status == EvaluationRun.Status.RUNNING)
    if running:
        raise DomainError(
            f"run(s) {', '.join(map(str, running))} of study {study.name!r} are running; rescore once they "
            "have finished or been cancelled",
            field="study",
        )
    options: dict[int, dict[int, int | None]] = defaultdict(dict)
    for trial_id, item, option in ItemResponse.objects.filter(
        trial__run__study=study, trial__status=Trial.Status.SCORED
    ).values_list("trial_id", "item", "extracted_option"):
        options[trial_id][item] = option
    trials = list(
        Trial.objects.filter(run__study=study, status=Trial.Status.SCORED).only(
            "pk", "run_id", "index", *SCORE_FIELDS
        )
    )
    changed: list[Trial] = []
    changed_cells: set[Hashable] = set()
    for trial in trials:
        run = runs[trial.run_id]
        chosen = options.get(trial.pk, {})
        try:
            stored = [chosen[item] for item in sorted(chosen)]
            picked = [option for option in stored if option is not None]
            if len(picked) != len(stored):
                raise ValueError("an item has no extracted option")
            score = svo.score_value(run.value, picked, definitions=definitions)
        except ValueError as exc:
            raise DomainError(
                f"trial {trial.index} of run {run.pk} is marked scored but its stored choices cannot be "
                f"scored: {exc}",
                field="study",
            ) from exc
        fields = score_fields(score)
        if any(getattr(trial, name) != new for name, new in fields.items()):
            for name, new in fields.items():
                setattr(trial, name, new)
            changed.append(trial)
            changed_cells.add(cell_of(run))
    Trial.objects.bulk_update(changed, list(SCORE_FIELDS), batch_size=500)
    outdated = [run.pk for run in runs.values() if run.definitions_version != definitions]
    EvaluationRun.objects.filter(pk__in=outdated).update(definitions_version=definitions)
    logger.info(
        "study rescored study=%s definitions=%s trials=%d changed=%d cells=%d runs=%d",
        study.pk,
        definitions,
        len(trials),
        len(changed),
        len(changed_cells),
        len(outdated),
    )
    return RescoreResult(
        definitions=definitions,
        trials_seen=len(trials),
        trials_changed=len(changed),
        cells_changed=len(changed_cells),
        runs_updated=len(outdated),
    )
