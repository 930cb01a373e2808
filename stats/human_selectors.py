"""Reads for the report's "People and models" section: participants' scored waves and the models' scored
trials as the plain records ``stats.humans`` takes."""

from __future__ import annotations

import numpy as np
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


def model_trials(trials: pd.DataFrame) -> pd.DataFrame:
    """The scored trials with an angle, from the report's trials frame (``stats.selectors.trials_frame``), with
    the fields of ``stats.humans.ModelTrial`` as columns."""
    scored = trials[trials["status"] == SCORED]
    frame = pd.DataFrame(
        {
            "model": scored["model"].astype(str),
            "value": scored["value"].astype(str),
            "strategy": scored["strategy"].astype(str),
            "run": scored["run_id"].astype(np.int64),
            "trial": scored["trial"].astype(np.int64),
            "angle": pd.to_numeric(scored["angle"], errors="coerce").astype(np.float64),
            "category": scored["category"].astype(object).where(scored["category"].astype(bool), None),
            "value_rationality": pd.to_numeric(scored["value_rationality"], errors="coerce").astype(
                np.float64
            ),
            "category_hit": scored["category_hit"].astype(object),
            "reference_agent": scored["reference_agent"].astype(bool),
        },
        columns=list(humans.ModelTrial._fields),
    )
    return frame[np.isfinite(frame["angle"])]


def humans_state(*, study: Study) -> str:
    """Changes whenever a participant submits (for the report's cache key)."""
    state = SvoResponseSet.objects.filter(participant__link__study=study).aggregate(
        n=Count("pk"), last=Max("pk")
    )
    return f"humans:{state['n']}:{state['last']}"


def humans_section(study: Study, trials: pd.DataFrame, *, include_flagged: bool) -> humans.HumansSection:
    """The report's ``humans`` section: people who took the slider next to the study's models."""
    return humans.humans_vs_models(
        human_responses(study=study), model_trials(trials), include_flagged=include_flagged
    )
