"""A study's registered analysis plan: frozen once saved; a new registration supersedes it, the latest counts."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from evaluation.models import Study


class Preregistration(models.Model):
    """The analysis plan of a study as registered: the plan, its canonical JSON text (what was hashed), its
    SHA-256 and the HTML document. Never edited: saving an existing registration raises."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="preregistrations")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    plan = models.JSONField()
    plan_json = models.TextField(help_text="The canonical JSON text whose SHA-256 is sha256.")
    sha256 = models.CharField(max_length=64)
    html = models.TextField()

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"preregistration {self.sha256[:12]} of {self.study}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValueError("a registered analysis plan is never edited; register a new one")
        super().save(*args, **kwargs)
