"""The Celery app. Used only when ``CELERY_BROKER_URL`` is set; otherwise jobs run in-process."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hvae_site.settings")

app = Celery("hvae")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Catch up with Label Studio every five minutes: whatever webhooks missed while either side was down.
app.conf.beat_schedule = {
    "annotation-sync": {"task": "annotation.sync_all", "schedule": 300.0},
}
