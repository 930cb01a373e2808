"""Runs executed by a real Celery worker over the Redis on 127.0.0.1:6379 (CI has it; missing Redis fails)."""

from __future__ import annotations

import os
import time

import pytest
import redis
from django.test import override_settings

from evaluation import jobs, services
from evaluation.models import EvaluationRun, Trial
from tests.processes import manage

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
BROKER = os.environ.get("HVAE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def redis_broker():
    client = redis.Redis.from_url(BROKER, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        pytest.fail(f"Redis is required for the Celery tests and is not reachable at {BROKER}: {exc}")
    client.flushdb()
    yield BROKER
    client.flushdb()


def test_celery_worker_executes_queued_batches(redis_broker, reference_server) -> None:
    study = services.study_get_or_create(name="celery")
    endpoint = services.endpoint_get_or_create(base_url=reference_server, max_concurrency=8)
    run, _ = services.evaluation_run_create(
        study=study,
        endpoint=endpoint,
        design=services.RunDesign(
            model="ref-faithful", value="prosocial", n_trials=10, extractor_model="ref-extractor"
        ),
    )
    worker = manage(
        "shell",
        "-c",
        "from hvae_site.celery import app; app.worker_main(['worker', '--pool=solo', '--concurrency=1', "
        "'--loglevel=WARNING', '--without-gossip', '--without-mingle', '--without-heartbeat'])",
        env={"CELERY_BROKER_URL": redis_broker, "HVAE_TRIAL_BATCH_SIZE": "4"},
    )
    try:
        with override_settings(CELERY_BROKER_URL=redis_broker, HVAE_TRIAL_BATCH_SIZE=4):
            from hvae_site.celery import app

            app.conf.broker_url = redis_broker
            assert jobs.start_runs([run.pk]) == "celery"
        deadline = time.monotonic() + 120
        while EvaluationRun.objects.get(pk=run.pk).status != EvaluationRun.Status.COMPLETED:
            assert worker.poll() is None, worker.communicate()[1][-3000:]
            if time.monotonic() > deadline:
                worker.terminate()
                pytest.fail(f"the worker did not finish the run: {worker.communicate(timeout=30)[1][-3000:]}")
            time.sleep(0.3)
    finally:
        if worker.poll() is None:
            worker.terminate()
            worker.wait(timeout=30)
    run.refresh_from_db()
    assert run.status == EvaluationRun.Status.COMPLETED
    assert Trial.objects.filter(run=run).count() == 10
    assert Trial.objects.filter(run=run, status=Trial.Status.SCORED).count() == 10
