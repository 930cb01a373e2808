"""Celery tasks of the annotation app (used when a broker is configured; beat runs the catch-up sync)."""

from __future__ import annotations

import logging

from celery import shared_task

from annotation import services
from evaluation.models import Study
from hvae_site.api import DomainError

logger = logging.getLogger(__name__)


@shared_task(name="annotation.sync_all")  # type: ignore[untyped-decorator]
def sync_all_studies() -> int:
    """Scheduled catch-up sync of every study with a pushed batch; returns the judgments created."""
    created = 0
    for study in Study.objects.filter(batches__label_studio_project_id__isnull=False).distinct():
        try:
            created += services.annotation_sync(study=study).created
        except DomainError as exc:
            logger.warning("scheduled annotation sync failed study=%s: %s", study.pk, exc.message)
    return created
