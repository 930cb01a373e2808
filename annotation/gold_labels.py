"""Writes of gold labels: what a trial's transcript is known to show, independent of the metric being validated.

A label is ``constructed`` (a reference agent whose disposition is known by construction,
``sampling.constructed_gold``) or set by a ``researcher`` (admin, or ``manage.py import_gold``). A researcher's
label wins over a constructed one; the automated category is never used.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass

from django.db import transaction

from annotation import sampling
from annotation.models import GoldLabel, GoldSource
from evaluation import access, svo
from evaluation.models import Study, Trial
from hvae_site.api import DomainError

logger = logging.getLogger(__name__)

CSV_COLUMNS = ("trial_id", "category")
CSV_OPTIONAL = ("note",)


def gold_constructed_refresh(*, study: Study) -> int:
    """Store the constructed gold label of every reference trial of the study whose agent's disposition fixes
    one and that has no label yet; returns how many were added. Researchers' labels are left as they are."""
    labelled = GoldLabel.objects.filter(trial__run__study=study).values("trial_id")
    rows = (
        Trial.objects.filter(run__study=study, run__endpoint__is_reference=True)
        .exclude(pk__in=labelled)
        .values_list("pk", "run__model", "run__value", "run__temperature")
    )
    new = [
        GoldLabel(trial_id=pk, category=category, source=GoldSource.CONSTRUCTED)
        for pk, model, value, temperature in rows
        if (
            category := sampling.constructed_gold(
                model=model, value=value, temperature=temperature, is_reference=True
            )
        )
    ]
    GoldLabel.objects.bulk_create(new, ignore_conflicts=True)
    if new:
        logger.info("constructed gold labels study=%s added=%d", study.pk, len(new))
    return len(new)


@transaction.atomic
def gold_label_set(
    *, trial: Trial, category: str, note: str = "", user: access.AnyUser | None = None
) -> GoldLabel:
    """A researcher's gold label for the trial (replacing any earlier one, constructed or not)."""
    if category not in svo.VALUES:
        raise DomainError(
            f"category must be one of {', '.join(svo.VALUES)}, got {category!r}.", field="category"
        )
    if user is not None:
        access.check_write(user, trial.run.study, field="trial")
    label, _ = GoldLabel.objects.update_or_create(
        trial=trial,
        defaults={
            "category": category,
            "source": GoldSource.RESEARCHER,
            "note": note,
            "set_by": access.researcher(user) if user is not None else None,
        },
    )
    logger.info("gold label set trial=%s category=%s source=researcher", trial.pk, category)
    return label


@dataclass(frozen=True)
class GoldRow:
    line: int
    trial_id: int
    category: str
    note: str


class GoldFileError(DomainError):
    """A gold file with at least one bad line; ``problems`` lists them all, each with its line number."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems), field="file")
        self.problems = problems


def gold_rows_parse(text: str, *, study: Study) -> list[GoldRow]:
    """Every line of a gold CSV (header ``trial_id,category[,note]``) checked: the trial exists and belongs to
    the study, the category is one of the four orientations, no trial appears twice. Raises GoldFileError
    naming every bad line."""
    problems: list[str] = []
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    names = [h.strip().lower() for h in header] if header else []
    if names[:2] != list(CSV_COLUMNS) or any(n not in CSV_OPTIONAL for n in names[2:]):
        raise GoldFileError([f"line 1: the header must be trial_id,category[,note], got {','.join(names)!r}"])
    parsed: list[tuple[int, str, str, str]] = []
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(names) or len(row) < 2:
            problems.append(f"line {line}: expected {len(names)} column(s), got {len(row)}")
            continue
        parsed.append((line, row[0].strip(), row[1].strip(), row[2].strip() if len(row) > 2 else ""))
    ids = {int(raw) for _, raw, _, _ in parsed if raw.isdigit()}
    in_study = set(Trial.objects.filter(pk__in=ids, run__study=study).values_list("pk", flat=True))
    existing = set(Trial.objects.filter(pk__in=ids).values_list("pk", flat=True))
    rows: list[GoldRow] = []
    seen: dict[int, int] = {}
    for line, raw_id, category, note in parsed:
        if not raw_id.isdigit():
            problems.append(f"line {line}: trial_id must be a whole number, got {raw_id!r}")
            continue
        trial_id = int(raw_id)
        if trial_id not in existing:
            problems.append(f"line {line}: no trial {trial_id}")
        elif trial_id not in in_study:
            problems.append(f"line {line}: trial {trial_id} does not belong to study {study.name!r}")
        elif trial_id in seen:
            problems.append(f"line {line}: trial {trial_id} already given on line {seen[trial_id]}")
        if category not in svo.VALUES:
            problems.append(f"line {line}: category must be one of {', '.join(svo.VALUES)}, got {category!r}")
        seen.setdefault(trial_id, line)
        rows.append(GoldRow(line=line, trial_id=trial_id, category=category, note=note))
    if not parsed and not problems:
        problems.append("the file has no gold labels")
    if problems:
        raise GoldFileError(problems)
    return rows


@transaction.atomic
def gold_import(*, study: Study, text: str, user: access.AnyUser | None = None) -> int:
    """Import researchers' gold labels from CSV text: all of them, or (any bad line) none."""
    rows = gold_rows_parse(text, study=study)
    if user is not None:
        access.check_write(user, study, field="study")
    trials = Trial.objects.select_related("run__study").in_bulk([row.trial_id for row in rows])
    for row in rows:
        gold_label_set(trial=trials[row.trial_id], category=row.category, note=row.note)
    logger.info("gold labels imported study=%s rows=%d", study.pk, len(rows))
    return len(rows)
