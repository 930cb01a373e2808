"""The study page and its downloads: the same numbers in HTML, JSON and CSV; escaping; no NaN on a page."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pandas as pd
import pytest
from django.test import Client
from django.urls import reverse

from annotation.models import AnnotationBatch
from evaluation.models import ItemResponse, Trial
from tests.stats.builders import UNSAFE_TEXT, add_judgments, build_study

NOT_A_NUMBER = re.compile(r"\b(nan|inf|infinity)\b|>\s*None\s*<", re.IGNORECASE)


@pytest.fixture
def client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _page(client: Client, study_id: int, query: str = "") -> str:
    response = client.get(reverse("study-page", args=[study_id]) + query)
    assert response.status_code == 200
    return response.content.decode()


def _json(client: Client, study_id: int) -> Any:
    response = client.get(reverse("study-report-json", args=[study_id]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    return json.loads(response.content)


def _csv(client: Client, study_id: int, table: str) -> pd.DataFrame:
    response = client.get(reverse("study-report-table", args=[study_id, table]))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    return pd.read_csv(io.StringIO(response.content.decode()))


def test_the_page_json_and_csv_show_the_same_numbers(client, validated_study):
    study_id = validated_study.study.pk
    report = _json(client, study_id)
    page = _page(client, study_id)
    agreement = _csv(client, study_id, "agreement")
    pooled = agreement[
        (agreement["value"] == "pooled")
        & (agreement["exclusion"] == "raters passing the gold screen")
        & (agreement["section"] == "human")
    ].set_index("statistic")
    screened = report["human"]["gold_screened"]["pooled"]
    for name, estimate in (
        ("kappa_vs_majority", screened["vs_majority"]["kappa"]),
        ("gwet_ac1_vs_majority", screened["vs_majority"]["gwet_ac1"]),
        ("mean_kappa_vs_raters", screened["vs_raters"]["mean_kappa"]),
        ("lin_ccc_angle", screened["angles"]["lin_ccc"]),
        ("alpha_categories_among_raters", screened["inter_rater"]["categories"]),
    ):
        assert pooled.loc[name, "estimate"] == pytest.approx(estimate["value"])
        assert pooled.loc[name, "n"] == estimate["n"]
        assert (
            f"{estimate['value']:.2f} [{estimate['ci_low']:.2f}, {estimate['ci_high']:.2f}] (n = {estimate['n']})"
            in page
        )
    automated = _csv(client, study_id, "automated")
    assert len(automated) == len(report["automated"]["cells"]) == 16
    assert automated["value_rationality"].tolist() == pytest.approx(
        [cell["value_rationality"]["value"] for cell in report["automated"]["cells"]]
    )
    icc = report["consistency"]["test_retest"]["ICC(A,1)"]
    assert f"{icc['value']:.3f} [" in page


def test_the_page_has_every_section_and_figure_inline(client, validated_study):
    page = _page(client, validated_study.study.pk)
    for anchor in (
        'id="automated"',
        'id="goal-vs-plain"',
        'id="consistency"',
        'id="agreement"',
        'id="gold-accuracy"',
        'id="methods-runs"',
        'id="methods-batches"',
        "Prompt templates (verbatim)",
        "no ICC over invented rater slots",  # what was assumed is said on the page
        "whose raters tie",
        "the spread between values inflates pooled agreement",
        "gold screen passed",
    ):
        assert anchor in page, anchor
    for figure in ("heatmap", "ring-prosocial", "goal-vs-plain-prosocial", "confusion", "bland-altman"):
        assert f'<figure id="figure-{figure}"><svg' in page, figure
    # no external assets: nothing is fetched from another host (XML namespaces are names, not fetches)
    assert re.search(r"(src|href)=\"(https?:)?//", page) is None
    assert "<link" not in page
    assert "@import" not in page
    assert "<script" not in page
    assert NOT_A_NUMBER.search(page) is None


def test_a_study_with_trials_but_no_judgments_shows_not_enough_data(client, demo_like_study):
    page = _page(client, demo_like_study.study.pk)
    assert "No human judgments yet" in page
    assert "not enough data (n = 0)" in page
    assert 'id="figure-heatmap"' in page
    assert NOT_A_NUMBER.search(page) is None
    assert _csv(client, demo_like_study.study.pk, "agreement")["estimate"].isna().all()


def test_model_output_and_rater_text_are_escaped(client, user):
    simulated = build_study("unsafe", trials_per_run=3, seed=2, unsafe_text=True, owner=user)
    add_judgments(simulated, n_transcripts=8, n_raters=3, overlap=2, seed=4)
    page = _page(client, simulated.study.pk)
    assert UNSAFE_TEXT not in page
    assert "&lt;script&gt;alert(&#x27;model&#x27;)&lt;/script&gt;" in page  # the returned model id, escaped
    assert "<script" not in page


def test_flagged_raters_switch(client, validated_study):
    excluded = _page(client, validated_study.study.pk)
    included = _page(client, validated_study.study.pk, "?include_flagged=1")
    # both selections are always on the page; the setting picks the one the figures use
    for page in (excluded, included):
        assert "All raters: 120 judgments by 6 raters" in page
        assert re.search(r"gold screen passed: \d+ judgments by 5 raters", page)
    assert "the figures (pooled over values) use the gold-screened raters" in excluded
    assert "the figures (pooled over values) use all raters" in included
    response = client.get(
        reverse("study-report-json", args=[validated_study.study.pk]) + "?include_flagged=1"
    )
    human = json.loads(response.content)["human"]
    assert human["selected"] == "all_raters"
    assert human["all_raters"]["n_raters"] == 6
    assert human["gold_screened"]["n_raters"] == 5


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_raw_tidy_data_downloads(client, validated_study, fmt):
    study = validated_study.study
    expected = {
        "trials": Trial.objects.filter(run__study=study).count(),
        "responses": ItemResponse.objects.filter(trial__run__study=study).count(),
        "judgments": 40 * 3 + 4 * 6,
    }
    for table, count in expected.items():
        response = client.get(reverse("study-raw-data", args=[study.pk, table, fmt]))
        assert response.status_code == 200
        assert f'filename="study{study.pk}-{table}.{fmt}"' in response["Content-Disposition"]
        body = response.content.decode()
        frame = pd.read_csv(io.StringIO(body)) if fmt == "csv" else pd.DataFrame(json.loads(body))
        assert len(frame) == count, table
    judgments = pd.read_csv(
        io.StringIO(
            client.get(reverse("study-raw-data", args=[study.pk, "judgments", "csv"])).content.decode()
        )
    )
    assert {"trial_id", "rater", "category", "angle", "flagged", "audit", "comment"} <= set(judgments.columns)
    assert isinstance(json.loads(judgments["audit"].iloc[0]), dict)


@pytest.mark.parametrize(
    "url",
    [
        ("study-report-table", "no-such-table"),
        ("study-raw-data", "trials", "xml"),
        ("study-raw-data", "secrets", "csv"),
    ],
)
def test_unknown_downloads_are_404(client, validated_study, url):
    name, *args = url
    assert client.get(reverse(name, args=[validated_study.study.pk, *args])).status_code == 404


def test_unknown_study_is_404(client, db):
    assert client.get(reverse("study-page", args=[999_999])).status_code == 404
    assert client.get(reverse("study-report-json", args=[999_999])).status_code == 404


def test_pages_need_a_signed_in_user(validated_study):
    anonymous = Client()
    for name, args in (
        ("study-page", [validated_study.study.pk]),
        ("study-report-json", [validated_study.study.pk]),
        ("study-report-table", [validated_study.study.pk, "agreement"]),
        ("study-raw-data", [validated_study.study.pk, "trials", "csv"]),
    ):
        response = anonymous.get(reverse(name, args=args))
        assert response.status_code == 302, name


def test_an_arm_judged_once_per_transcript_says_inter_rater_reliability_is_unavailable(
    client, validated_study
):
    single = add_judgments(
        validated_study, n_transcripts=12, n_raters=3, overlap=1, seed=9, first_annotation_id=10_000
    )
    AnnotationBatch.objects.filter(pk=single.pk).update(arm="informed")
    page = _page(client, validated_study.study.pk)
    informed = page[page.index('id="arm-informed"') :]
    assert (
        "Inter-rater reliability unavailable (all raters):</strong> every transcript was judged by one rater"
        in (informed)
    )
    assert "overlap 1" in informed
    blind = page[: page.index('id="arm-informed"')]
    assert "Inter-rater reliability unavailable" not in blind
    report = _json(client, validated_study.study.pk)
    (other,) = report["human"]["other_arms"]
    assert other["all_raters"]["pooled"]["inter_rater"]["available"] is False
    assert report["human"]["all_raters"]["pooled"]["inter_rater"]["available"] is True
