"""The study page (the full report) and its downloads: every table as CSV, the report as JSON, and the raw
tidy data (trials, item responses, judgments) as CSV and JSON.

The page pages its long tables on the server (``?<table>_page=N``, ``PAGE_SIZE`` rows a page; the static HTML
report of ``study_report`` shows every row) and holds the sample-size planner of ``stats.planning`` as a GET
form (``?plan-statistic=...``) prefilled from the study."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from django import forms
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import render
from django.utils.safestring import SafeString, mark_safe

from evaluation import access
from evaluation import selectors as evaluation_selectors
from evaluation.access import researcher_required
from evaluation.models import Study
from hvae_site.spreadsheet import csv_safe_cell
from stats import planning, plots, reports
from stats import selectors as stats_selectors
from stats.report_model import Report, to_json
from stats.templatetags import stats_format

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


PAGE_SIZE = 20
"""Rows a page of a long table on the study page."""

PAGED_TABLES = {
    # name (query parameter <name>_page) -> (section id the page links return to, where the rows are)
    "cells": ("automated-results", ("automated", "cells")),
    "goal_vs_plain": ("automated-results", ("automated", "goal_vs_plain")),
    "position_bias": ("sensitivity", ("sensitivity", "position_bias", "groups")),
    "prompt_variants": ("sensitivity", ("sensitivity", "prompt_variants", "comparisons")),
    "methods_runs": ("methods", ("methods", "runs")),
}
"""The report's long tables shown a page at a time (the runs table is paged too, from the database rows)."""


@dataclass(frozen=True)
class TablePage:
    """One page of a long table: its rows, where they stand in the whole, and links to the other pages."""

    rows: Sequence[Any]
    total: int
    first: int
    last: int
    number: int
    n_pages: int
    previous_url: str = ""
    next_url: str = ""
    links: tuple[tuple[int, str], ...] = ()

    @property
    def paged(self) -> bool:
        return self.n_pages > 1


def table_page(rows: Sequence[Any], name: str, anchor: str, query: QueryDict | None) -> TablePage:
    """The page of ``rows`` that ``?<name>_page=`` asks for (a missing, bad or too large number gives the
    nearest page, never an error); every row when there is no query (the static HTML report)."""
    if query is None:
        return TablePage(rows, len(rows), 1 if rows else 0, len(rows), 1, 1)
    paginator = Paginator(rows, PAGE_SIZE)
    page = paginator.get_page(query.get(f"{name}_page"))

    def url(number: int) -> str:
        params = query.copy()
        params[f"{name}_page"] = str(number)
        return f"?{params.urlencode()}#{anchor}"

    return TablePage(
        list(page.object_list),
        paginator.count,
        page.start_index(),
        page.end_index(),
        page.number,
        paginator.num_pages,
        url(page.number - 1) if page.has_previous() else "",
        url(page.number + 1) if page.has_next() else "",
        tuple((number, url(number)) for number in paginator.page_range) if paginator.num_pages > 1 else (),
    )


def _rows_at(report: dict[str, Any], path: tuple[str, ...]) -> list[Any]:
    node: Any = report
    for key in path:
        node = node.get(key, {}) if isinstance(node, dict) else {}
    return list(node) if isinstance(node, list) else []


def report_context(study: Study, *, include_flagged: bool, query: QueryDict | None = None) -> dict[str, Any]:
    """Everything the study page shows; also used by ``study_report --format html`` (no ``query``: every
    table whole, no planner form)."""
    report, figures = reports.cached_report_and_figures(study, include_flagged=include_flagged)
    plain = to_json(report)  # long tables are paged over the rows of its JSON form
    runs = list(evaluation_selectors.runs_for_study(study=study))
    pages = {
        name: table_page(_rows_at(plain, path), name, anchor, query)
        for name, (anchor, path) in PAGED_TABLES.items()
    }
    pages["runs"] = table_page(runs, "runs", "runs-section", query)
    glyphs, figures = plots.shared_glyphs(figures)
    safe = {name: _trusted_svg(svg) for name, svg in figures.items()}
    cells = plain["automated"]["cells"]
    varying = plots.varying_design_keys(cells)
    shared = [key for key in stats_format.DESIGN_KEYS if key not in varying]
    return {
        "study": study,
        "report": report,
        "runs": runs,
        # matplotlib's SVG with text as outlines: no model or rater text can become markup.
        "figures": safe,
        "glyphs": _trusted_svg(glyphs),
        "rings": plots.small_multiples(safe, plots.RING_PREFIX),
        "goal_vs_plain_figures": plots.small_multiples(safe, plots.GOAL_VS_PLAIN_PREFIX),
        "pages": pages,
        # the design settings that differ between cells get a column; the shared ones are said once
        "cell_design": {
            "varying": varying,
            "shared": stats_format.design_of(cells[0]["design"], shared) if cells else "",
        },
        "open_tables": {name for name in pages if query is not None and f"{name}_page" in query},
        "tables": reports.TABLE_NAMES,
        "raw_names": list(RAW_TABLES),
        "jsonl_table": JSONL_TABLE,
        "include_flagged": include_flagged,
    }


def _trusted_svg(svg: str) -> SafeString:
    return mark_safe(svg)  # noqa: S308


MAX_RATERS = 100
MAX_CATEGORIES = 20
PLAN_PREFIX = "plan"


class PlanForm(forms.Form):
    """The sample-size planner on the study page: the arguments of ``manage.py plan_validation``."""

    statistic = forms.ChoiceField(
        choices=[
            ("kappa", "kappa (Cohen's with 2 raters, Fleiss' with more)"),
            ("ac1", "Gwet's AC1"),
            ("icc", "ICC (angles)"),
            ("alpha", "Krippendorff's alpha (nominal)"),
        ]
    )
    expected = forms.FloatField(
        min_value=-0.99, max_value=0.99, help_text="the value the statistic is expected to take"
    )
    half_width = forms.FloatField(
        label="Half-width", min_value=0.005, max_value=0.99, help_text="of the 95% CI wanted, e.g. 0.1"
    )
    raters = forms.IntegerField(min_value=2, max_value=MAX_RATERS, help_text="raters per transcript")
    categories = forms.IntegerField(
        min_value=2, max_value=MAX_CATEGORIES, required=False, help_text="default 4, or as many as shares"
    )
    prevalence = forms.CharField(
        required=False,
        max_length=400,
        help_text="category shares summing to 1, comma-separated; empty: equal",
    )

    def clean_prevalence(self) -> tuple[float, ...] | None:
        raw = str(self.cleaned_data.get("prevalence") or "").strip()
        if not raw:
            return None
        try:
            shares = tuple(float(part) for part in raw.split(","))
        except ValueError:
            raise forms.ValidationError("give numbers separated by commas, e.g. 0.4,0.3,0.2,0.1") from None
        if len(shares) > MAX_CATEGORIES:
            raise forms.ValidationError(f"at most {MAX_CATEGORIES} categories")
        try:
            return planning.check_prevalence(shares)
        except planning.PlanningError as error:
            raise forms.ValidationError(str(error)) from error

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        prevalence, categories = data.get("prevalence"), data.get("categories")
        if prevalence is not None and categories is not None and categories != len(prevalence):
            self.add_error(
                "categories", f"the prevalence gives {len(prevalence)} shares but categories is {categories}"
            )
            return data
        try:
            data["request"] = planning.PlanRequest(
                statistic=data["statistic"],
                expected=data["expected"],
                half_width=data["half_width"],
                raters=data["raters"],
                prevalence=prevalence or planning.uniform_prevalence(categories or 4),
            )
        except planning.PlanningError as error:
            self.add_error(None, str(error))
        return data


def plan_initial(report: Report, batches: Sequence[dict[str, Any]]) -> tuple[dict[str, Any], str]:
    """The planner's starting values from the study, and a sentence saying where each came from: raters
    per transcript of the latest annotation batch, the category shares of the automated results, and the
    raters' agreement on categories when there is one."""
    initial: dict[str, Any] = {"statistic": "kappa", "expected": 0.6, "half_width": 0.1, "raters": 3}
    sources = []
    overlaps = [batch["overlap"] for batch in batches if batch.get("overlap")]
    if overlaps:
        initial["raters"] = max(2, min(MAX_RATERS, int(overlaps[-1])))
        sources.append(f"raters per transcript of the latest batch ({initial['raters']})")
    totals: dict[str, int] = {}
    for cell in report.automated.cells:
        for category, count in cell.categories.items():
            totals[category] = totals.get(category, 0) + int(count)
    n = sum(totals.values())
    if n and len(totals) >= 2 and all(totals.values()):
        shares = [round(count / n, 3) for count in totals.values()]
        shares[-1] = round(1 - sum(shares[:-1]), 3)
        if all(0 < share < 1 for share in shares):
            initial["prevalence"] = ",".join(f"{share:g}" for share in shares)
            initial["categories"] = len(shares)
            sources.append(f"category shares of the automated results ({', '.join(totals)})")
    among_raters = report.human.gold_screened.pooled.inter_rater
    value = among_raters.categories.value if among_raters.available else None
    if isinstance(value, float | int) and -0.9 <= value <= 0.95:
        initial["statistic"] = "alpha"
        initial["expected"] = round(float(value), 2)
        sources.append(f"the raters' Krippendorff's alpha on categories ({initial['expected']:g})")
    return initial, "; ".join(sources)


SIMULATION_SECONDS = 1e-3
"""Rough seconds a planner simulation takes per transcript and rater here (measured: 0.1-1 ms)."""
PAGE_PLAN_SECONDS = 6.0
"""The most simulating one page request may do; the command line has no such bound."""
TABLE_HALF_WIDTHS = (0.5, 0.75, 1.0, 1.5, 2.0)
TABLE_EXPECTED_STEPS = (-0.1, 0.1)
"""The rows of ``planning.plan_table``: half-widths around the one asked, and the expected value +-0.1."""


def simulation_seconds(request: planning.PlanRequest) -> float:
    """About how long planning ``request`` takes: nothing for an analytic formula; for a simulation, the
    two-rater kappa formula's n (a stand-in of the right size) times raters times ``SIMULATION_SECONDS``."""
    if request.statistic == "icc" or (request.statistic == "kappa" and request.raters == 2):
        return 0.0
    try:
        n = planning.kappa_sample_size(
            min(max(request.expected, 0.0), 0.99), request.half_width, request.prevalence
        )
    except planning.PlanningError:
        return 0.0
    return n * request.raters * SIMULATION_SECONDS


def _around(request: planning.PlanRequest, expected: float, half_width: float) -> planning.PlanRequest:
    return planning.PlanRequest(
        request.statistic, expected, half_width, request.raters, request.prevalence, request.confidence
    )


def plan_rows(plan: planning.SampleSizePlan, budget: float) -> tuple[list[dict[str, Any]], int]:
    """``planning.plan_table``'s rows around ``plan`` (whose own n is reused), each planned while the
    simulation budget lasts (the cheapest first), and how many were left out for time; rows that cannot be
    planned are left out as there."""
    request = plan.request
    cells = [(request.expected, round(request.half_width * f, 10)) for f in TABLE_HALF_WIDTHS]
    cells += [(round(request.expected + step, 10), request.half_width) for step in TABLE_EXPECTED_STEPS]
    rows, skipped = [], 0
    asked = (request.expected, request.half_width)
    for expected, half_width in sorted(cells, key=lambda cell: simulation_seconds_of(request, *cell)):
        if (expected, half_width) == asked:
            rows.append({"expected": expected, "half_width": half_width, "n": plan.n, "asked": True})
            continue
        try:
            cell_request = _around(request, expected, half_width)
        except planning.PlanningError:
            continue
        cost = simulation_seconds(cell_request)
        if cost > budget:
            skipped += 1
            continue
        budget -= cost
        try:
            n = planning.plan_sample_size(cell_request).n
        except planning.PlanningError:
            continue
        rows.append({"expected": expected, "half_width": half_width, "n": n, "asked": False})
    return sorted(rows, key=lambda row: (row["expected"], row["half_width"])), skipped


def simulation_seconds_of(request: planning.PlanRequest, expected: float, half_width: float) -> float:
    try:
        return simulation_seconds(_around(request, expected, half_width))
    except planning.PlanningError:
        return 0.0


def planner_context(request: HttpRequest, study: Study, report: Report) -> dict[str, Any]:
    """The planner form, bound when the page was asked with ``plan-`` parameters, and its plan. A plan
    whose simulation would take longer than ``PAGE_PLAN_SECONDS`` is refused with a field error (the
    command line makes it), and the table around it keeps the rows that fit in what time is left."""
    initial, source = plan_initial(report, stats_selectors.plan_inputs(study=study)["batches"])
    asked = any(key.startswith(f"{PLAN_PREFIX}-") for key in request.GET)
    form = PlanForm(request.GET if asked else None, initial=initial, prefix=PLAN_PREFIX)
    context: dict[str, Any] = {"plan_form": form, "plan_source": source}
    if asked and form.is_valid():
        plan_request = form.cleaned_data["request"]
        cost = simulation_seconds(plan_request)
        if cost > PAGE_PLAN_SECONDS:
            form.add_error(
                "half_width",
                f"simulating this would take about {cost:.0f} s, too long for a page: ask for a wider "
                "half-width, or run manage.py plan_validation",
            )
            return context
        try:
            plan = planning.plan_sample_size(plan_request)
        except planning.PlanningError as error:
            form.add_error(None, str(error))
            return context
        context["plan"] = plan
        context["plan_table"], context["plan_rows_skipped"] = plan_rows(plan, PAGE_PLAN_SECONDS - cost)
    return context


@researcher_required
def study_page(request: HttpRequest, pk: int) -> HttpResponse:
    study = access.study_for(request.user, pk)
    context = report_context(study, include_flagged=include_flagged(request), query=request.GET)
    context.update(planner_context(request, study, context["report"]))
    return render(request, "stats/study.html", context)


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


@researcher_required
def report_json(request: HttpRequest, pk: int) -> HttpResponse:
    study = access.study_for(request.user, pk)
    report = reports.cached_report(study, include_flagged=include_flagged(request))
    return HttpResponse(json.dumps(to_json(report), indent=2), content_type="application/json")
