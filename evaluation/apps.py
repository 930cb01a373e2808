from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _grant_researchers(**kwargs: Any) -> None:
    """After every migrate (and test flush), the ``researchers`` group exists with its admin permissions, which
    Django creates only after the migrations have run."""
    from evaluation import services  # imported here: models are not ready when this module is imported

    services.researchers_group()


class EvaluationConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "evaluation"

    def ready(self) -> None:
        post_migrate.connect(_grant_researchers, dispatch_uid="evaluation.grant_researchers")
