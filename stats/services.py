"""Writes of the stats app: registering a study's analysis plan."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.template.loader import render_to_string

from evaluation.models import Study
from stats import preregistration
from stats.models import Preregistration
from stats.preregistration_report import current_plan


def preregistration_register(*, study: Study, created_by: User | None = None) -> Preregistration:
    """Freeze the study's current analysis plan: its canonical JSON, SHA-256 and HTML document, stored."""
    plan = current_plan(study)
    text = preregistration.canonical_json(plan)
    digest = preregistration.plan_hash(plan)
    html = render_to_string(
        "stats/preregistration.html",
        {"study": study, "plan": plan, "sha256": digest, "plan_json": text},
    )
    return Preregistration.objects.create(
        study=study, created_by=created_by, plan=plan, plan_json=text, sha256=digest, html=html
    )
