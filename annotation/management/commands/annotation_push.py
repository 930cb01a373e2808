"""python manage.py annotation_push: sample a study's transcripts into Label Studio for human raters."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from annotation import labeling, selectors, services
from evaluation.services import study_find
from hvae_site import validators
from hvae_site.api import DomainError
from hvae_site.commands import DatabaseCommand


class Command(DatabaseCommand):
    help = "Push a stratified, seeded sample of a study's scored transcripts to Label Studio (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--study", required=True, type=validators.arg_text(), help="Study name or id.")
        parser.add_argument(
            "--size",
            type=validators.arg_int(maximum=100_000),
            required=True,
            help="Transcripts to sample (besides gold items).",
        )
        parser.add_argument(
            "--arm",
            choices=labeling.ARMS,
            default=labeling.BLIND,
            help="What raters see: blind (the transcript only, the default), value-shown (plus the induced "
            "value), informed (plus the extracted choices, payoffs and the SVO ring).",
        )
        parser.add_argument(
            "--overlap",
            type=validators.arg_int(maximum=100),
            default=services.DEFAULT_OVERLAP,
            help="Raters per task (default 3; 1 needs --allow-single-rater).",
        )
        parser.add_argument(
            "--allow-single-rater",
            action="store_true",
            help="Allow overlap 1: one rater per task, so inter-rater reliability is unavailable.",
        )
        parser.add_argument("--seed", type=validators.arg_int(), default=0)
        parser.add_argument(
            "--gold",
            type=validators.arg_int(maximum=10_000),
            default=0,
            help="Gold items to add: transcripts with a gold label (a researcher's, or a reference agent's known "
            "by construction), never labelled by the metric.",
        )
        parser.add_argument(
            "--gold-per-rater",
            type=validators.arg_int(minimum=0, maximum=100_000),
            default=0,
            help="Gold items every rater meets within their quota (the import order guarantees it; default 0).",
        )
        parser.add_argument(
            "--gold-min-answered",
            type=validators.arg_int(minimum=1, maximum=100_000),
            default=services.MIN_GOLD_FOR_FLAG,
            help="Gold items a rater must have answered before they can be flagged (default 2).",
        )
        parser.add_argument(
            "--gold-fail-threshold",
            type=validators.arg_float(minimum=0.0, maximum=1.0),
            default=services.DEFAULT_GOLD_FAIL_THRESHOLD,
            help="Raters whose gold accuracy is below this share are flagged (default 0.5; unclear is a miss).",
        )
        parser.add_argument(
            "--include-reference",
            action="store_true",
            help="Let reference-agent transcripts be sampled as ordinary items (demos); otherwise they enter "
            "only as gold.",
        )
        parser.add_argument(
            "--quota",
            type=validators.arg_int(minimum=1, maximum=100_000),
            default=services.DEFAULT_QUOTA,
            help="Tasks per rater before the completion code.",
        )
        parser.add_argument(
            "--hide-choices", action="store_true", help="Do not show the extracted choices (informed arm)."
        )
        parser.add_argument(
            "--extraction-audit", action="store_true", help="Raters also read off each option."
        )
        parser.add_argument(
            "--show-prediction",
            action="store_true",
            help="Show the automated category (informed arm only).",
        )
        parser.add_argument(
            "--show-induction",
            action="store_true",
            help="Show the value-induction exchange (it names the value).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        study = study_find(name_or_id=options["study"])
        if study is None:
            raise CommandError(f"no study named or numbered {options['study']!r}", returncode=2)
        if options["size"] <= 0:
            raise CommandError("--size must be at least 1", returncode=2)
        try:
            result = services.annotation_batch_push(
                study=study,
                size=options["size"],
                arm=options["arm"],
                overlap=options["overlap"],
                allow_single_rater=options["allow_single_rater"],
                seed=options["seed"],
                gold=options["gold"],
                tasks_per_rater=options["quota"],
                show_choices=not options["hide_choices"],
                extraction_audit=options["extraction_audit"],
                show_prediction=options["show_prediction"],
                show_induction=options["show_induction"],
                include_reference=options["include_reference"],
                gold_per_rater=options["gold_per_rater"],
                gold_min_answered=options["gold_min_answered"],
                gold_fail_threshold=options["gold_fail_threshold"],
            )
        except DomainError as exc:
            where = f"--{exc.field.replace('_', '-')}: " if exc.field else ""
            raise CommandError(f"{where}{exc.message}", returncode=2) from exc
        batch = result.batch
        verb = "created" if result.batch_created else "reused"
        self.stdout.write(
            f"Batch {batch.pk} {verb}: Label Studio project {batch.label_studio_project_id}, "
            f"{result.tasks_created} task(s) imported, {result.tasks_existing} already there.\n"
            f"Invite link for raters: {selectors.invite_url(batch=batch)}\n"
        )
