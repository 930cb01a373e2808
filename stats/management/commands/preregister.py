"""python manage.py preregister: freeze a study's analysis plan (JSON and HTML with its SHA-256), stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from evaluation.services import study_find
from hvae_site import validators
from hvae_site.commands import DatabaseCommand
from stats import services


class Command(DatabaseCommand):
    help = (
        "Register a study's analysis plan (sampling, gold and exclusion rules, statistics, seeds, run designs) "
        "as canonical JSON and HTML with its SHA-256; prints the hash. The study report then states whether "
        "the analysis followed the latest registered plan. Exit code 2 on bad input."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--study", required=True, type=validators.arg_text(), help="Study name or id.")
        parser.add_argument(
            "--out", help="Also write prereg-<study>-<hash12>.json and .html to this existing folder."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        study = study_find(name_or_id=str(options["study"]))
        if study is None:
            raise CommandError(f"no study named or numbered {options['study']!r}", returncode=2)
        out = Path(options["out"]) if options.get("out") else None
        if out is not None and not out.is_dir():
            raise CommandError(f"--out {out} is not an existing folder", returncode=2)
        registration = services.preregistration_register(study=study)
        if out is not None:
            stem = out / f"prereg-{study.pk}-{registration.sha256[:12]}"
            try:
                stem.with_suffix(".json").write_text(registration.plan_json, encoding="utf-8")
                stem.with_suffix(".html").write_text(registration.html, encoding="utf-8")
            except OSError as error:
                raise CommandError(
                    f"cannot write to {out}: {error.strerror or error}", returncode=2
                ) from error
        self.stdout.write(registration.sha256)
