"""python manage.py rescore: recompute a study's stored scores under named SVO definitions (no LLM call)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from evaluation import rescoring, svo
from evaluation.services import study_find
from hvae_site.api import DomainError
from hvae_site.commands import DatabaseCommand


class Command(DatabaseCommand):
    help = (
        "Recompute every scored trial of a study from its stored choices under the named SVO definitions "
        "and record them on its runs. Asks no model; running it twice changes nothing. Exit code 2 on bad input."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--study", required=True, help="Study name or id.")
        parser.add_argument(
            "--definitions",
            default=svo.DEFINITIONS_VERSION,
            help=f"Definitions name, one of: {', '.join(svo.KNOWN_DEFINITIONS)} (default: %(default)s).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        definitions = str(options["definitions"])
        if definitions not in svo.KNOWN_DEFINITIONS:
            raise CommandError(
                f"unknown definitions {definitions!r}; use one of: {', '.join(svo.KNOWN_DEFINITIONS)}",
                returncode=2,
            )
        study = study_find(name_or_id=str(options["study"]))
        if study is None:
            raise CommandError(f"no study named or numbered {options['study']!r}", returncode=2)
        try:
            result = rescoring.study_rescore(study=study, definitions=definitions)
        except DomainError as exc:
            raise CommandError(exc.message, returncode=2) from exc
        self.stdout.write(
            f"Rescored study {study.name!r} under {result.definitions}: {result.trials_changed} of "
            f"{result.trials_seen} trials changed, in {result.cells_changed} report cell(s); "
            f"{result.runs_updated} run(s) now record {result.definitions}."
        )
