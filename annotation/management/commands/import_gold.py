"""python manage.py import_gold: researchers' gold labels for a study's trials, from a CSV file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from annotation import gold_labels
from evaluation.services import study_find
from hvae_site import validators
from hvae_site.commands import DatabaseCommand


class Command(DatabaseCommand):
    help = (
        "Import gold labels set by researchers from a CSV file with the header trial_id,category[,note]. Every "
        "line is checked first (the trial belongs to the study, the category is one of the four orientations, "
        "no trial twice): a file with any bad line saves nothing. A researcher's label replaces a constructed one."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--study", required=True, type=validators.arg_text(), help="Study name or id.")
        parser.add_argument("file", type=Path, help="CSV file: trial_id,category[,note].")

    def handle(self, *args: Any, **options: Any) -> None:
        study = study_find(name_or_id=options["study"])
        if study is None:
            raise CommandError(f"no study named or numbered {options['study']!r}", returncode=2)
        path: Path = options["file"]
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"cannot read {path}: {exc}", returncode=2) from exc
        try:
            count = gold_labels.gold_import(study=study, text=text)
        except gold_labels.GoldFileError as exc:
            listing = "\n".join(f"  {problem}" for problem in exc.problems)
            raise CommandError(
                f"{path}: {len(exc.problems)} problem(s), nothing imported:\n{listing}", returncode=2
            ) from exc
        self.stdout.write(f"{count} gold label(s) imported for study {study.name!r} (source: researcher).\n")
