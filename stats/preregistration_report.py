"""A study's analysis plan rebuilt from the database, and the report's comparison with the registered one."""

from __future__ import annotations

import inspect
from typing import Any

from evaluation import svo
from evaluation.models import Study
from stats import preregistration
from stats import selectors as stats_selectors
from stats.report_model import Preregistration


def current_plan(study: Study) -> dict[str, Any]:
    """The plan the study's batches, runs and the report's settings give now (see ``plan_document``)."""
    from stats import reports  # the report includes this module's section

    inputs = stats_selectors.plan_inputs(study=study)
    include_flagged = inspect.signature(reports.build_report).parameters["include_flagged"].default
    return preregistration.plan_document(
        study_id=study.pk,
        study_name=study.name,
        batches=inputs["batches"],
        include_flagged_by_default=bool(include_flagged),
        designs=inputs["designs"],
        report_version=reports.REPORT_VERSION,
        definitions_version=svo.DEFINITIONS_VERSION,
        bootstrap_seed=reports.DEFAULT_SEED,
        n_boot=reports.DEFAULT_N_BOOT,
    )


def preregistration_section(study: Study) -> Preregistration:
    """Whether the study has a registered plan and whether the analysis followed it: every difference
    between the latest registered plan and the current one, by path."""
    registered = stats_selectors.latest_preregistration(study=study)
    if registered is None:
        return Preregistration(
            registered=False, sha256=None, registered_at=None, followed=None, deviations=()
        )
    found = preregistration.deviations(registered.plan, current_plan(study))
    return Preregistration(
        registered=True,
        sha256=registered.sha256,
        registered_at=registered.created_at.isoformat(),
        followed=not found,
        deviations=tuple(found),
    )
