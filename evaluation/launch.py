"""Starting evaluation runs: the one service behind the runs API and ``run_evaluation``.

Before anything is created every design is checked, the endpoint (and the extractor's own endpoint, if any) is
probed and must serve the requested models; only then are the runs created and started. A problem is a
``DomainError`` naming the field at fault (HTTP 400 in the API, exit code 2 in the command), and nothing is saved.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction

from evaluation import jobs, services
from evaluation.llm import EndpointConfigError, probe_endpoint
from evaluation.models import EvaluationRun, ModelEndpoint, Study
from hvae_site.api import DomainError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StartedRuns:
    """The runs, in the order of their designs, and where they run: "celery", "in-process", or "" when the
    caller runs them itself (``start=False``)."""

    runs: list[EvaluationRun]
    started: str


def _probe(endpoint: ModelEndpoint, *, field: str, prefix: str = "") -> list[str]:
    try:
        listed = probe_endpoint(services.endpoint_config(endpoint))
    except EndpointConfigError as exc:
        raise DomainError(f"{prefix}{exc}", field=field) from exc
    services.endpoint_note_models(endpoint=endpoint, listed=listed)
    return listed


def _check_served(listed: Sequence[str], wanted: Sequence[str], *, field: str, where: str) -> None:
    """An endpoint that lists its models must list every wanted one (one that lists none is trusted)."""
    missing = [model for model in wanted if listed and model not in listed]
    if missing:
        raise DomainError(
            f"{where} does not serve model(s) {', '.join(missing)}; it lists {', '.join(listed)}.",
            field=field,
        )


def evaluation_runs_start(
    *,
    study: Study,
    endpoint: ModelEndpoint,
    designs: Sequence[services.RunDesign],
    extractor_endpoint: ModelEndpoint | None = None,
    reuse_existing: bool = True,
    start: bool = True,
) -> StartedRuns:
    """Check, create and start one run per design on ``endpoint``.

    ``extractor_endpoint`` serves the designs' extractor model when it is not ``endpoint``. With
    ``reuse_existing`` a design that already has a run in the study resumes that run instead of duplicating it.
    ``start`` queues the runs (Celery when a broker is configured, else an in-process executor thread); without
    it the caller executes them (``run_evaluation`` does, in the foreground, with a progress bar).
    """
    if not designs:
        raise DomainError("Nothing to run: no design was given.", field="model")
    for design in designs:
        design.validate()
    models = list(dict.fromkeys(design.model for design in designs))
    extractor_models = list(dict.fromkeys(d.extractor_model for d in designs if d.extractor_model))
    listed = _probe(endpoint, field="endpoint")
    _check_served(listed, models, field="model", where="The endpoint")
    if extractor_endpoint is None:
        _check_served(listed, extractor_models, field="extractor_model", where="The endpoint")
    else:
        if not extractor_models:
            raise DomainError("An extractor endpoint needs an extractor model.", field="extractor_model")
        extractor_listed = _probe(
            extractor_endpoint, field="extractor_endpoint", prefix="extractor endpoint: "
        )
        _check_served(
            extractor_listed, extractor_models, field="extractor_model", where="The extractor endpoint"
        )
    with transaction.atomic():
        runs = [
            services.evaluation_run_create(
                study=study,
                endpoint=endpoint,
                design=design,
                extractor_endpoint=extractor_endpoint,
                reuse_existing=reuse_existing,
            )[0]
            for design in designs
        ]
        started = jobs.start_runs([run.pk for run in runs]) if start else ""
    logger.info("runs ready study=%s runs=%s started=%s", study.pk, [run.pk for run in runs], started or "-")
    return StartedRuns(runs=runs, started=started)
