"""Celery tasks: thin wrappers around the executor, used when ``CELERY_BROKER_URL`` is set."""

from __future__ import annotations

from celery import shared_task

from evaluation import runner


@shared_task(name="evaluation.run_trial_batch", acks_late=True)  # type: ignore[untyped-decorator]
def run_trial_batch(run_id: int, batch_size: int) -> None:
    """Claim and execute up to ``batch_size`` pending trials of one run (other workers share the rest)."""
    runner.execute_runs([run_id], max_trials=batch_size)
