"""python manage.py study_report: write a study's report as HTML, JSON or CSV tables, or its trials as JSON Lines."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.template.loader import render_to_string

from evaluation.services import study_find
from hvae_site import validators
from hvae_site.commands import DatabaseCommand
from stats import reports
from stats.views import json_default, report_context, table_csv

FORMATS = ("html", "json", "csv", "jsonl")


class Command(DatabaseCommand):
    help = (
        "Write a study's report: --format html (the study page as one file), json (every number, with n, "
        "CI and method), csv (a .zip with one CSV per table), jsonl (one JSON line per trial: design, "
        "provenance, definitions, full conversation, choices, extraction methods, re-asks and scores). Exit code "
        "2 on bad input."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--study", required=True, type=validators.arg_text(), help="Study name or id.")
        parser.add_argument("--format", default="html", help="html, json, csv or jsonl.")
        parser.add_argument("--out", required=True, help="Output file (csv: a .zip of CSV tables).")
        parser.add_argument(
            "--include-flagged", action="store_true", help="Keep raters flagged on gold items."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        fmt = options["format"]
        if fmt not in FORMATS:
            raise CommandError(f"unknown format {fmt!r}; use one of: {', '.join(FORMATS)}", returncode=2)
        study = study_find(name_or_id=str(options["study"]))
        if study is None:
            raise CommandError(f"no study named or numbered {options['study']!r}", returncode=2)
        out = Path(options["out"])
        if out.is_dir():
            raise CommandError(f"--out {out} is a folder; give a file name", returncode=2)
        if not out.parent.is_dir():
            raise CommandError(f"the folder {out.parent} does not exist", returncode=2)
        include = bool(options["include_flagged"])
        try:
            self._write(study, fmt, out, include)
        except OSError as error:
            raise CommandError(f"cannot write {out}: {error.strerror or error}", returncode=2) from error
        self.stdout.write(f"Wrote the {fmt} report of study {study.name!r} to {out}")

    def _write(self, study: Any, fmt: str, out: Path, include_flagged: bool) -> None:
        if fmt == "html":
            out.write_text(
                render_to_string("stats/study.html", report_context(study, include_flagged=include_flagged)),
                encoding="utf-8",
            )
            return
        if fmt == "jsonl":
            with out.open("w", encoding="utf-8") as stream:
                stream.writelines(reports.trials_jsonl(study))
            return
        report = reports.cached_report(study, include_flagged=include_flagged)
        if fmt == "json":
            out.write_text(json.dumps(report, indent=2, default=json_default), encoding="utf-8")
            return
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, frame in reports.report_tables(report).items():
                archive.writestr(f"{name}.csv", table_csv(frame))
