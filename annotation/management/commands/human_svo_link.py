"""python manage.py human_svo_link: make a signed link through which people take the SVO slider."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from annotation import participant_selectors, participant_services
from annotation.models import INDUCE_CHOICES, ITEM_SET_CHOICES
from evaluation.services import study_find
from hvae_site.api import DomainError
from hvae_site.commands import DatabaseCommand


class Command(DatabaseCommand):
    help = (
        "Make a signed participant link for a study: people consent, optionally read a value description, "
        "and take the SVO slider; prints the link."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--study", required=True, help="Study name or id.")
        parser.add_argument(
            "--induce",
            choices=[choice for choice, _ in INDUCE_CHOICES],
            default="none",
            help="Value description people read first (random: one per participant, balanced).",
        )
        parser.add_argument("--items", choices=[choice for choice, _ in ITEM_SET_CHOICES], default="primary")
        parser.add_argument(
            "--retest-after",
            type=int,
            default=None,
            metavar="HOURS",
            help="Open a retest this many hours later.",
        )
        parser.add_argument(
            "--quota", type=int, default=None, help="Participants admitted (default: no limit)."
        )
        parser.add_argument("--seed", type=int, default=0, help="Breaks ties between equally filled arms.")

    def handle(self, *args: Any, **options: Any) -> None:
        study = study_find(name_or_id=options["study"])
        if study is None:
            raise CommandError(f"no study named or numbered {options['study']!r}", returncode=2)
        try:
            link = participant_services.svo_link_create(
                study=study,
                induce=options["induce"],
                items=options["items"],
                retest_after_hours=options["retest_after"],
                quota=options["quota"],
                seed=options["seed"],
            )
        except DomainError as exc:
            raise CommandError(exc.message, returncode=2) from exc
        retest = f", retest after {link.retest_after_hours} h" if link.retest_after_hours is not None else ""
        quota = f", quota {link.quota}" if link.quota is not None else ""
        self.stdout.write(
            f"Participant link {link.pk} for study {study.name!r} (induce {link.induce}, {link.items} items"
            f"{retest}{quota}):\n{participant_selectors.svo_link_url(link=link)}\n"
        )
