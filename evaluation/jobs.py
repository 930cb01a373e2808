"""Starting runs: Celery batches when a broker is configured, else the in-process executor in a thread."""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Sequence

from django.conf import settings
from django.db import close_old_connections, transaction

from evaluation import runner, services
from evaluation.models import Trial

logger = logging.getLogger(__name__)


def broker_configured() -> bool:
    return bool(settings.CELERY_BROKER_URL)


def enqueue_batches(run_ids: Sequence[int]) -> int:
    """Queue one Celery task per batch of pending trials; returns how many were queued (after commit)."""
    from evaluation.tasks import run_trial_batch

    batch_size = settings.HVAE_TRIAL_BATCH_SIZE
    plan: list[tuple[int, int]] = []
    for run_id in run_ids:
        pending = Trial.objects.filter(run_id=run_id, status=Trial.Status.PENDING).count()
        plan += [(run_id, batch_size)] * math.ceil(pending / batch_size)

    def send() -> None:
        for run_id, size in plan:
            run_trial_batch.delay(run_id, size)

    transaction.on_commit(send)
    logger.info("queued trial batches count=%d runs=%s", len(plan), list(run_ids))
    return len(plan)


def start_runs(run_ids: Sequence[int]) -> str:
    """Start the runs' pending trials in the background; returns where they run ('celery' or 'in-process')."""
    if broker_configured():
        services.evaluation_run_mark_started(run_ids=run_ids)
        enqueue_batches(run_ids)
        return "celery"
    logger.info("no CELERY_BROKER_URL configured: running runs=%s in-process", list(run_ids))

    def work() -> None:
        try:
            runner.execute_runs(run_ids)
        finally:
            close_old_connections()

    transaction.on_commit(lambda: threading.Thread(target=work, name="hvae-executor", daemon=True).start())
    return "in-process"
