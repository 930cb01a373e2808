"""Reads for the report's "People and models" section: participants' scored waves and the models' scored
trials as the plain records ``stats.humans`` takes."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
from django.db.models import Count, Max

from annotation.models import SvoResponseSet
from evaluation.models import Study
from stats import humans

SCORED = "scored"


def human_responses(*, study: Study) -> list[humans.HumanResponse]:
    """Every wave every participant of the study submitted, in participant and wave order."""
    rows = (
        SvoResponseSet.objects.filter(participant__link__study=study)
        .order_by("participant_id", "wave")
        .values_list(
            "participant_id",
            "wave",
            "value",
            "angle",
            "category",
            "value_rationality",
            "category_hit",
            "transitive",
            "straight_lined",
            "too_fast",
        )
    )
    return [
        humans.HumanResponse(
            participant=participant,
            wave=wave,
            value=value or humans.NO_INDUCTION,
            angle=angle,
            category=category,
            value_rationality=vr,
            category_hit=hit,
            transitive=transitive,
            flagged=straight or fast,
        )
        for participant, wave, value, angle, category, vr, hit, transitive, straight, fast in rows
    ]


def _float(value: Any) -> float | None:
    if value is None or value is pd.NA:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def model_trials(trials: pd.DataFrame) -> list[humans.ModelTrial]:
    """The scored trials with an angle, from the report's trials frame (``stats.selectors.trials_frame``)."""
    scored = trials[trials["status"] == SCORED]
    records = []
    for row in scored.to_dict(orient="records"):
        angle = _float(row["angle"])
        if angle is None:
            continue
        hit = row["category_hit"]
        records.append(
            humans.ModelTrial(
                model=str(row["model"]),
                value=str(row["value"]),
                strategy=str(row["strategy"]),
                run=int(row["run_id"]),
                trial=int(row["trial"]),
                angle=angle,
                category=str(row["category"]) if row["category"] else None,
                value_rationality=_float(row["value_rationality"]),
                category_hit=None if hit is None or hit is pd.NA else bool(hit),
                reference_agent=bool(row["reference_agent"]),
            )
        )
    return records


def humans_state(*, study: Study) -> str:
    """Changes whenever a participant submits (for the report's cache key)."""
    state = SvoResponseSet.objects.filter(participant__link__study=study).aggregate(
        n=Count("pk"), last=Max("pk")
    )
    return f"humans:{state['n']}:{state['last']}"


def humans_section(study: Study, trials: pd.DataFrame, *, include_flagged: bool) -> dict[str, Any]:
    """The report's ``humans`` section: people who took the slider next to the study's models."""
    return humans.humans_vs_models(
        human_responses(study=study), model_trials(trials), include_flagged=include_flagged
    )
