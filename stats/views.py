"""The study page (the full report) and its downloads: every table as CSV, the report as JSON, and the raw
tidy data (trials, item responses, judgments) as CSV and JSON."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pandas as pd
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils.safestring import SafeString, mark_safe

from evaluation import access
from evaluation import selectors as evaluation_selectors
from evaluation.access import researcher_required
from evaluation.models import Study
from hvae_site.spreadsheet import csv_safe_cell
from stats import reports
from stats import selectors as stats_selectors

RAW_TABLES: dict[str, Callable[..., pd.DataFrame]] = {
    "trials": stats_selectors.trials_frame,
    "responses": stats_selectors.responses_frame,
    "judgments": stats_selectors.judgments_frame,
}
RAW_FORMATS = ("csv", "json")
JSONL_TABLE = "trials"
"""``data/trials.jsonl``: one JSON line per trial with its design, conversation, choices and scores."""
JSON_COLUMNS = ("audit", "presented_order", "provenance")


def include_flagged(request: HttpRequest) -> bool:
    return request.GET.get("include_flagged") in {"1", "true", "yes"}


def report_context(study: Study, *, include_flagged: bool) -> dict[str, Any]:
    """Everything the study page shows; also used by ``study_report --format html``."""
    report, figures = reports.cached_report_and_figures(study, include_flagged=include_flagged)
    return {
        "study": study,
        "report": report,
        "runs": evaluation_selectors.runs_for_study(study=study),
        # matplotlib's SVG with text as outlines: no model or rater text can become markup.
        "figures": {name: _trusted_svg(svg) for name, svg in figures.items()},
        "tables": reports.TABLE_NAMES,
        "raw_names": list(RAW_TABLES),
        "jsonl_table": JSONL_TABLE,
        "include_flagged": include_flagged,
    }


def _trusted_svg(svg: str) -> SafeString:
    return mark_safe(svg)  # noqa: S308


@researcher_required
def study_page(request: HttpRequest, pk: int) -> HttpResponse:
    study = access.study_for(request.user, pk)
    return render(
        request, "stats/study.html", report_context(study, include_flagged=include_flagged(request))
    )


def _download(body: str, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def table_csv(frame: pd.DataFrame) -> str:
    """A table as CSV, with list and dict cells written as JSON and text cells made safe to open in a
    spreadsheet (``csv_safe_cell``)."""
    frame = frame.copy()
    for column in JSON_COLUMNS:
        if column in frame.columns:
            frame[column] = [json.dumps(value) for value in frame[column]]
    for column in frame.columns:
        if pd.api.types.is_object_dtype(frame[column]) or pd.api.types.is_string_dtype(frame[column]):
            frame[column] = pd.Series(
                [csv_safe_cell(value) for value in frame[column]], index=frame.index, dtype=object
            )
    return str(frame.to_csv(index=False))


@researcher_required
def report_table_csv(request: HttpRequest, pk: int, table: str) -> HttpResponse:
    study = access.study_for(request.user, pk)
    tables = reports.report_tables(reports.cached_report(study, include_flagged=include_flagged(request)))
    if table not in tables:
        raise Http404(f"no table {table!r}; tables: {', '.join(tables)}")
    return _download(table_csv(tables[table]), "text/csv", f"study{study.pk}-{table}.csv")


@researcher_required
def raw_data(request: HttpRequest, pk: int, table: str, fmt: str) -> HttpResponse | StreamingHttpResponse:
    study = access.study_for(request.user, pk)
    if table == JSONL_TABLE and fmt == "jsonl":
        response = StreamingHttpResponse(reports.trials_jsonl(study), content_type="application/x-ndjson")
        response["Content-Disposition"] = f'attachment; filename="study{study.pk}-trials.jsonl"'
        return response
    if table not in RAW_TABLES or fmt not in RAW_FORMATS:
        raise Http404(f"no data {table}.{fmt}; tables: {', '.join(RAW_TABLES)}; formats: csv, json")
    frame = RAW_TABLES[table](study=study)
    if fmt == "csv":
        return _download(table_csv(frame), "text/csv", f"study{study.pk}-{table}.csv")
    body = frame.to_json(orient="records", date_format="iso")
    return _download(body, "application/json", f"study{study.pk}-{table}.json")


def json_default(value: Any) -> Any:
    """What ``json`` cannot encode itself: a typed report section (a dataclass) as its fields, else text."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return str(value)


@researcher_required
def report_json(request: HttpRequest, pk: int) -> HttpResponse:
    study = access.study_for(request.user, pk)
    report = reports.cached_report(study, include_flagged=include_flagged(request))
    return HttpResponse(json.dumps(report, indent=2, default=json_default), content_type="application/json")
