"""The study page's layout: contents list, paged long tables, folding details, per-value small multiples, the
sample-size planner form, and figures whose glyphs are defined once per page."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse

from evaluation import svo
from stats import planning, plots, reports, views
from stats.templatetags import stats_format
from stats.views import PAGE_SIZE, report_context
from tests.stats.builders import SimulatedStudy, add_judgments, build_study

USE_REF = re.compile(r'xlink:href="#(DejaVu[\w-]+)"')


class Page(HTMLParser):
    """Ids, contents links, details (with their summary text), table rows by table id, form errors."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.contents_links: list[str] = []
        self.summaries: dict[str, str] = {}
        self.open_details: set[str] = set()
        self.rows: dict[str, int] = {}
        self._stack: list[tuple[str, dict[str, str | None]]] = []
        self._in_contents = False
        self._details: list[str] = []
        self._summary: str | None = None
        self._tables: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids.append(str(attributes["id"]))
        if tag == "nav" and attributes.get("id") == "contents":
            self._in_contents = True
        if tag == "a" and self._in_contents and (attributes.get("href") or "").startswith("#"):
            self.contents_links.append(str(attributes["href"])[1:])
        if tag == "details":
            self._details.append(str(attributes.get("id") or ""))
            if "open" in attributes:
                self.open_details.add(str(attributes.get("id")))
        if tag == "summary" and self._details:
            self._summary = self._details[-1]
            self.summaries[self._summary] = ""
        if tag == "table":
            self._tables.append(str(attributes.get("id") or ""))
            self.rows.setdefault(self._tables[-1], 0)
        if tag == "tr" and self._tables:
            self.rows[self._tables[-1]] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "nav":
            self._in_contents = False
        if tag == "summary":
            self._summary = None
        if tag == "details" and self._details:
            self._details.pop()
        if tag == "table" and self._tables:
            self._tables.pop()

    def handle_data(self, data: str) -> None:
        if self._summary is not None:
            self.summaries[self._summary] += data


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    return page


@pytest.fixture
def client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def wide_study(db: None, user: Any) -> SimulatedStudy:
    """24 cells (3 models x 4 values x 2 strategies): more than a page of the cells table; one batch."""
    simulated = build_study(
        "wide",
        models=("ref-faithful", "ref-random", "ref-noisy"),
        noise={"ref-faithful": 0.1, "ref-random": 1.0, "ref-noisy": 0.4},
        trials_per_run=3,
        seed=11,
        owner=user,
    )
    add_judgments(simulated, n_transcripts=12, n_raters=4, overlap=2, seed=3)
    return simulated


def get(client: Client, study_id: int, query: str = "") -> str:
    response = client.get(reverse("study-page", args=[study_id]) + query)
    assert response.status_code == 200
    return response.content.decode()


def test_every_contents_link_targets_a_section_of_the_page(client: Client, validated_study: Any) -> None:
    page = parse(get(client, validated_study.study.pk))
    assert len(page.contents_links) == 10
    for target in page.contents_links:
        assert target in page.ids, target
    duplicated = {i for i in page.ids if page.ids.count(i) > 1} - {"agreement-batch", "agreement-arm"}
    assert not duplicated
    judged = re.search(
        r'Human validation</a> <span class="muted">\((\d+) judgments\)', get(client, validated_study.study.pk)
    )
    assert judged is not None
    assert (
        int(judged.group(1)) == reports.cached_report(validated_study.study).human.all_raters.n_judgments > 0
    )


def test_secondary_tables_fold_with_summaries_that_count_their_rows(
    client: Client, validated_study: Any
) -> None:
    html = get(client, validated_study.study.pk)
    page = parse(html)
    expected = {
        "details-cells-counts": "(16 rows)",
        "details-goal-vs-plain": "(8 rows)",
        "details-consistency": "(statistics and 16 cells)",
        "details-runs": "(32 runs)",
        "details-methods-runs": "(32 runs)",
        "details-methods-batches": "(1 batch)",
        "details-prompt-templates": "templates)",
    }
    for details, count in expected.items():
        assert count in page.summaries[details], (details, page.summaries[details])
    assert page.open_details == set()  # everything secondary starts folded
    assert "within each cell's design" in page.summaries["details-consistency"]
    assert "ICC(1,1)" not in page.summaries["details-consistency"]  # no coefficient across cells
    # the folded tables are on the page (in the HTML, shown on demand), with every row when short
    assert page.rows["automated-counts"] == 16 + 1
    assert page.rows["methods-runs"] == PAGE_SIZE + 1


def test_long_tables_are_paged_on_the_server_and_every_page_is_reachable(
    client: Client, wide_study: SimulatedStudy
) -> None:
    study_id = wide_study.study.pk
    first = get(client, study_id)
    page = parse(first)
    assert page.rows["automated"] == PAGE_SIZE + 1  # header row + one page
    assert "rows 1–20 of 24" in first
    assert 'href="?cells_page=2#automated-results"' in first
    assert reverse("study-report-table", args=[study_id, "automated"]) in first  # every row, as CSV

    second_html = get(client, study_id, "?cells_page=2")
    second = parse(second_html)
    assert second.rows["automated"] == 4 + 1
    assert "rows 21–24 of 24" in second_html
    assert "details-cells-counts" in second.open_details  # paging inside folded details keeps them open
    assert "details-runs" not in second.open_details

    runs = parse(get(client, study_id, "?runs_page=2"))
    assert runs.rows["runs"] == 24 - PAGE_SIZE + 1
    assert "details-runs" in runs.open_details
    # bad page numbers give the nearest page, never an error
    assert parse(get(client, study_id, "?cells_page=abc")).rows["automated"] == PAGE_SIZE + 1
    assert parse(get(client, study_id, "?cells_page=999")).rows["automated"] == 4 + 1
    # other parameters are kept by the page links
    flagged = get(client, study_id, "?include_flagged=1")
    assert 'href="?include_flagged=1&amp;cells_page=2#automated-results"' in flagged


def test_the_static_html_report_shows_every_row(wide_study: SimulatedStudy) -> None:
    html = render_to_string("stats/study.html", report_context(wide_study.study, include_flagged=False))
    page = parse(html)
    assert page.rows["automated"] == 24 + 1
    assert page.rows["runs"] == 24 + 1
    assert "rows 1–" not in html
    assert 'id="planner"' not in html  # the planner needs the live page


def test_figures_are_small_multiples_per_value_with_glyphs_defined_once(
    client: Client, validated_study: Any
) -> None:
    html = get(client, validated_study.study.pk)
    for value in svo.VALUES:
        assert f'<figure id="figure-ring-{value}"><svg' in html
        assert f'<figure id="figure-goal-vs-plain-{value}"><svg' in html
    assert html.count('class="glyphs"') == 1
    defined = re.findall(r'<path id="(DejaVu[\w-]+)"', html)
    assert len(defined) == len(set(defined))  # each glyph once on the page
    assert set(USE_REF.findall(html)) <= set(defined)  # and every use of one finds it
    assert "<!--" not in html.split('class="glyphs"', 1)[1]  # no comment repeats a label's text


def test_compact_svg_and_shared_glyphs_keep_every_mark() -> None:
    svg_a = plots.goal_vs_plain(
        [
            {
                "label": "m",
                "vr_plain": {"value": 0.5, "ci_low": 0.4, "ci_high": 0.6},
                "vr_goal": {"value": 0.7, "ci_low": None, "ci_high": None},
            }
        ],
        "induced prosocial",
    )
    svg_b = plots.svo_ring_of_value("prosocial", [0.0, 45.0, 90.0], [3, 1], [30.0], 45.0)
    assert "<metadata>" not in svg_a
    assert "<!--" not in svg_a
    # coordinates of a point or more carry two decimals at most (scales keep theirs)
    assert re.search(r"(?<![\d.])[1-9]\d*\.\d{3,}", re.sub(r"scale\([^)]*\)", "", svg_a)) is None
    sprite, stripped = plots.shared_glyphs({"a": svg_a, "b": svg_b})
    defined = set(re.findall(r'<path id="(DejaVu[\w-]+)"', sprite))
    for name, original in (("a", svg_a), ("b", svg_b)):
        assert USE_REF.findall(stripped[name]) == USE_REF.findall(original)
        assert set(USE_REF.findall(original)) <= defined
        assert "DejaVu" not in re.sub(r'xlink:href="#DejaVu[\w-]+"', "", stripped[name])
    assert plots.short_labels(["a · x · 1", "b · x · 2"]) == (["a · 1", "b · 2"], "x")
    assert plots.short_labels(["a · x", "b"]) == (["a · x", "b"], "")


def test_design_and_ci_filters() -> None:
    design = {"variant": "paper", "order": "fixed", "temperature": None, "items": "primary"}
    assert stats_format.design_of(design, ["variant", "temperature"]) == "paper · T default"
    assert stats_format.design(design) == "paper · fixed · T default · primary"
    assert stats_format.ci({"value": 0.5, "ci_low": 0.25, "ci_high": 0.75, "n": 9}) == "0.500 [0.250, 0.750]"
    assert (
        stats_format.ci({"value": 0.5, "ci_low": None, "ci_high": None, "n": 1}, 2) == "0.50 [CI undefined]"
    )
    assert stats_format.ci({"value": None, "n": 0, "note": ""}) == "not enough data (n = 0)"


def test_the_planner_is_prefilled_from_the_study(client: Client, validated_study: Any) -> None:
    html = get(client, validated_study.study.pk)
    assert 'id="planner-form"' in html
    assert 'name="plan-raters" value="3"' in html  # the batch's raters per transcript
    assert re.search(r'name="plan-prevalence"[^>]*value="[0-9.]+,[0-9.]+,[0-9.]+,[0-9.]+"', html)
    assert "raters per transcript of the latest batch (3)" in html
    assert 'id="plan-result"' not in html  # nothing is computed until asked


def test_the_planner_returns_the_number_of_transcripts_and_the_table_around_it(
    client: Client, validated_study: Any
) -> None:
    query = "?plan-statistic=kappa&plan-expected=0.6&plan-half_width=0.1&plan-raters=2&plan-categories=4"
    html = get(client, validated_study.study.pk, query)
    n = planning.kappa_sample_size(0.6, 0.1, planning.uniform_prevalence(4))
    assert f'<strong class="plan-n" id="plan-n">{n}</strong>' in html
    assert "Fleiss, Cohen &amp; Everitt (1969)" in html
    table = parse(html).rows["plan-table"]
    assert table == len(planning.plan_table(planning.PlanRequest("kappa", 0.6, 0.1, 2, (0.25,) * 4))) + 1
    assert f"{n} ← asked" in html
    icc = get(
        client,
        validated_study.study.pk,
        "?plan-statistic=icc&plan-expected=0.7&plan-half_width=0.1&plan-raters=3",
    )
    assert f'id="plan-n">{planning.icc_sample_size(0.7, 0.1, 3)}</strong>' in icc


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        (
            "plan-statistic=kappa&plan-expected=2&plan-half_width=0.1&plan-raters=3",
            "plan-expected",
            "less than or equal",
        ),
        (
            "plan-statistic=kappa&plan-expected=0.5&plan-half_width=abc&plan-raters=3",
            "plan-half_width",
            "Enter a number",
        ),
        (
            "plan-statistic=kappa&plan-expected=0.5&plan-half_width=0.1&plan-raters=1",
            "plan-raters",
            "greater than or equal",
        ),
        (
            "plan-statistic=median&plan-expected=0.5&plan-half_width=0.1&plan-raters=3",
            "plan-statistic",
            "Select a valid",
        ),
        (
            "plan-statistic=kappa&plan-expected=0.5&plan-half_width=0.1&plan-raters=3&plan-prevalence=0.5,0.6",
            "plan-prevalence",
            "sum to 1",
        ),
        (
            "plan-statistic=kappa&plan-expected=0.5&plan-half_width=0.1&plan-raters=3&plan-prevalence=a,b",
            "plan-prevalence",
            "numbers separated by commas",
        ),
        (
            "plan-statistic=kappa&plan-expected=0.5&plan-half_width=0.1&plan-raters=3&plan-categories=3&plan-prevalence=0.5,0.5",
            "plan-categories",
            "gives 2 shares",
        ),
        (
            "plan-statistic=kappa&plan-expected=nan&plan-half_width=0.1&plan-raters=3",
            "plan-expected",
            "Enter a number",
        ),
    ],
)
def test_bad_planner_input_shows_field_errors_never_a_500(
    client: Client, validated_study: Any, query: str, field: str, message: str
) -> None:
    html = get(client, validated_study.study.pk, "?" + query)
    match = re.search(rf'<span class="field-error" id="error-{field}">([^<]*)</span>', html)
    assert match, field
    assert message in match.group(1)
    assert 'id="plan-result"' not in html


def test_a_plan_that_cannot_be_made_says_why_above_the_form(client: Client, validated_study: Any) -> None:
    # two raters with these shares cannot have a kappa this low: no such joint table exists
    query = (
        "?plan-statistic=kappa&plan-expected=-0.9&plan-half_width=0.1&plan-raters=2&plan-prevalence=0.9,0.1"
    )
    html = get(client, validated_study.study.pk, query)
    assert 'id="planner-errors"' in html
    assert "the lowest possible is" in html
    assert 'id="plan-result"' not in html


def test_a_simulation_too_long_for_a_page_is_refused_and_the_table_keeps_what_fits(
    client: Client, validated_study: Any
) -> None:
    study_id = validated_study.study.pk
    slow = "?plan-statistic=alpha&plan-expected=0.3&plan-half_width=0.01&plan-raters=10&plan-categories=4"
    html = get(client, study_id, slow)
    match = re.search(r'<span class="field-error" id="error-plan-half_width">([^<]*)</span>', html)
    assert match
    assert "too long for a page" in match.group(1)
    assert "manage.py plan_validation" in match.group(1)
    assert 'id="plan-result"' not in html

    request = planning.PlanRequest("alpha", 0.6, 0.05, 5, planning.uniform_prevalence(4))
    assert views.simulation_seconds(request) <= views.PAGE_PLAN_SECONDS
    plan = planning.plan_sample_size(request)
    rows, skipped = views.plan_rows(plan, views.PAGE_PLAN_SECONDS - views.simulation_seconds(request))
    assert skipped >= 1  # the half-width W/2 alone would take four times as long as the plan
    assert len(rows) + skipped <= 7
    assert [row for row in rows if row["asked"]] == [
        {"expected": 0.6, "half_width": 0.05, "n": plan.n, "asked": True}
    ]
    page = get(client, study_id, "?plan-statistic=alpha&plan-expected=0.6&plan-half_width=0.05&plan-raters=5")
    assert 'id="plan-rows-skipped"' in page
    assert "--prevalence 0.25,0.25,0.25,0.25</code>" in page
