"""python manage.py annotation_sync: bring back every judgment that webhooks missed."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from annotation import services
from evaluation.services import study_find
from hvae_site import validators
from hvae_site.api import DomainError
from hvae_site.commands import DatabaseCommand


class Command(DatabaseCommand):
    help = "Sync all annotations of a study's batches from Label Studio (idempotent; marks deletions)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--study", required=True, type=validators.arg_text(), help="Study name or id.")

    def handle(self, *args: Any, **options: Any) -> None:
        study = study_find(name_or_id=options["study"])
        if study is None:
            raise CommandError(f"no study named or numbered {options['study']!r}", returncode=2)
        try:
            result = services.annotation_sync(study=study)
        except DomainError as exc:
            raise CommandError(exc.message, returncode=2) from exc
        self.stdout.write(
            f"Synced {result.batches} batch(es): {result.annotations} annotation(s) in Label Studio, "
            f"{result.created} new judgment(s), {result.deleted} marked deleted.\n"
        )
        if result.unreadable:
            self.stderr.write(
                f"{result.unreadable} annotation(s) do not fit the labeling interface and were left out "
                "(see the log for their ids).\n"
            )
