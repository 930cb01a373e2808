"""The stats API: a study's report as JSON, and the stateless agreement calculator."""

from __future__ import annotations

from typing import Any

import jsonschema  # type: ignore[import-untyped]
import numpy as np
import pandas as pd
import pytest
from django.urls import reverse

from annotation import participant_services
from stats import agreement, reports
from stats.agreement import ORDERED_CATEGORIES
from stats.report_model import to_json
from tests.stats.builders import build_study
from tests.stats.examples import KRIPPENDORFF_RELIABILITY_DATA, SHROUT_FLEISS_RATINGS
from tests.test_api_schema import report_validator

CALCULATOR = "/api/v1/stats/agreement"


def test_report_api_returns_the_cached_report(api_client, validated_study):
    response = api_client.get(f"/api/v1/studies/{validated_study.study.pk}/report")
    assert response.status_code == 200
    assert response.json() == to_json(reports.cached_report(validated_study.study))
    assert reverse("study-report", args=[validated_study.study.pk]).endswith(
        f"/studies/{validated_study.study.pk}/report"
    )


def test_report_api_switch_includes_flagged_raters(api_client, validated_study):
    response = api_client.get(f"/api/v1/studies/{validated_study.study.pk}/report?include_flagged=true")
    assert response.json()["human"]["selected"] == "all_raters"
    assert response.json()["human"]["all_raters"]["n_raters"] == 6


def test_report_api_of_an_unknown_study_is_404(api_client):
    assert api_client.get("/api/v1/studies/999999/report").status_code == 404


def test_report_api_needs_authentication(anonymous_client, validated_study):
    response = anonymous_client.get(f"/api/v1/studies/{validated_study.study.pk}/report")
    assert response.status_code in (401, 403)


def _ratings_of_matrix(matrix) -> list[dict]:
    return [
        {"unit": f"u{unit}", "rater": f"r{rater}", "score": float(score)}
        for unit, row in enumerate(matrix)
        for rater, score in enumerate(row)
    ]


def test_calculator_reproduces_shrout_and_fleiss(api_client):
    response = api_client.post(
        CALCULATOR, {"ratings": _ratings_of_matrix(SHROUT_FLEISS_RATINGS)}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["crossed_design"] is True
    icc = body["among_raters"]["icc_among_raters"]
    published = {
        "ICC(1,1)": 0.166,
        "ICC(A,1)": 0.290,
        "ICC(C,1)": 0.715,
        "ICC(1,k)": 0.443,
        "ICC(A,k)": 0.620,
    }
    for form, value in published.items():
        assert round(icc[form]["value"], 3) == value
    assert "versus_reference" not in body


def test_calculator_reproduces_krippendorff_with_missing_values(api_client):
    ratings = [
        {"unit": f"u{unit}", "rater": f"obs{rater}", "label": str(value), "score": value}
        for rater, row in enumerate(KRIPPENDORFF_RELIABILITY_DATA)
        for unit, value in enumerate(row)
        if value is not None
    ]
    body = api_client.post(
        CALCULATOR, {"ratings": ratings, "labels": ["1", "2", "3", "4", "5"]}, format="json"
    ).json()
    assert round(body["among_raters"]["alpha_categories"]["value"], 3) == 0.743
    assert round(body["among_raters"]["alpha_angles"]["value"], 3) == 0.849
    assert round(body["among_raters"]["alpha_ordinal"]["value"], 3) == 0.815


def test_calculator_compares_a_reference_with_the_raters(api_client):
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 4, 60)
    ratings, reference = [], []
    for unit, category in enumerate(truth):
        reference.append(
            {"unit": f"u{unit}", "label": ORDERED_CATEGORIES[category], "score": 20.0 * category}
        )
        for rater in range(3):
            noisy = category if rng.random() < 0.8 else rng.integers(0, 4)
            ratings.append(
                {
                    "unit": f"u{unit}",
                    "rater": f"r{rater}",
                    "label": ORDERED_CATEGORIES[noisy],
                    "score": 20.0 * category + rng.normal(0, 5),
                }
            )
    body = api_client.post(
        CALCULATOR,
        {"ratings": ratings, "reference": reference, "labels": list(ORDERED_CATEGORIES), "n_boot": 200},
        format="json",
    ).json()
    versus = body["versus_reference"]
    frame = pd.DataFrame(ratings)
    majority = frame.groupby("unit")["label"].agg(lambda s: agreement.majority_label(list(s))).dropna()
    reference_of = {r["unit"]: r["label"] for r in reference}
    expected = agreement.cohen_kappa([reference_of[u] for u in majority.index], list(majority))
    assert versus["kappa_vs_majority"]["value"] == pytest.approx(expected.value)
    assert versus["weighted_kappa_vs_majority"]["value"] is not None
    assert set(versus["icc_reference_vs_human_mean"]) == {"ICC(A,1)", "ICC(C,1)"}
    assert versus["icc_reference_vs_human_mean"]["ICC(A,1)"]["value"] > 0.8
    assert "icc_reference_as_rater" not in versus  # no ICC over rater slots
    assert versus["bland_altman"]["bias"]["n"] == 60
    assert body["n_units"] == 60
    assert body["n_raters"] == 3


def test_calculator_without_an_order_leaves_out_weighted_kappa(api_client):
    ratings = [{"unit": f"u{i}", "rater": r, "label": "ab"[i % 2]} for i in range(10) for r in ("x", "y")]
    reference = [{"unit": f"u{i}", "label": "ab"[i % 2]} for i in range(10)]
    body = api_client.post(CALCULATOR, {"ratings": ratings, "reference": reference}, format="json").json()
    assert body["versus_reference"]["kappa_vs_majority"]["value"] == pytest.approx(1.0)
    assert "weighted_kappa_vs_majority" not in body["versus_reference"]
    assert body["among_raters"]["fleiss_kappa"]["value"] == pytest.approx(1.0)


def test_calculator_with_too_little_data_says_so(api_client):
    body = api_client.post(
        CALCULATOR, {"ratings": [{"unit": "a", "rater": "x", "label": "p"}]}, format="json"
    ).json()
    assert body["among_raters"]["fleiss_kappa"]["value"] is None
    assert body["among_raters"]["fleiss_kappa"]["note"].startswith("not enough data (n = 0)")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "ratings"),
        ({"ratings": []}, "ratings"),
        ({"ratings": "x"}, "ratings"),
        ({"ratings": [{"rater": "x", "label": "a"}]}, "ratings"),
        ({"ratings": [{"unit": "u", "rater": "x"}]}, "ratings"),
        ({"ratings": [{"unit": "u", "rater": "x", "score": "steep"}]}, "ratings"),
        ({"ratings": [{"unit": "u", "rater": "x", "score": "NaN"}]}, "ratings"),
        ({"ratings": [{"unit": "u", "rater": "x", "label": "a"}] * 2}, "ratings"),
        ({"ratings": [{"unit": "u", "rater": "x", "label": "z"}], "labels": ["a", "b"]}, "labels"),
        ({"ratings": [{"unit": "u", "rater": "x", "label": "a"}], "labels": ["a", "a"]}, "labels"),
        ({"ratings": [{"unit": "u", "rater": "x", "label": "a"}], "n_boot": 5}, "n_boot"),
        ({"ratings": [{"unit": "u", "rater": "x", "label": "a"}], "seed": -1}, "seed"),
        (
            {"ratings": [{"unit": "u", "rater": "x", "label": "a"}], "reference": [{"unit": "u"}]},
            "reference",
        ),
        (
            {
                "ratings": [{"unit": "u", "rater": "x", "label": "a"}],
                "reference": [{"unit": "u", "label": "a"}, {"unit": "u", "label": "b"}],
            },
            "reference",
        ),
        (
            {
                "ratings": [{"unit": "u", "rater": "automated", "label": "a"}],
                "reference": [{"unit": "u", "label": "a"}],
            },
            "ratings",
        ),
    ],
)
def test_calculator_rejects_malformed_input_with_field_errors(api_client, payload, field):
    response = api_client.post(CALCULATOR, payload, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_calculator_rejects_a_body_that_is_not_an_object(api_client):
    response = api_client.post(CALCULATOR, [1, 2], format="json")
    assert response.status_code == 400
    malformed = api_client.post(CALCULATOR, "{not json", content_type="application/json")
    assert malformed.status_code == 400


def test_calculator_needs_authentication(anonymous_client):
    response = anonymous_client.post(CALCULATOR, {"ratings": []}, format="json")
    assert response.status_code in (401, 403)


def test_report_api_json_conforms_to_the_documented_report_schema(api_client, db, user, tmp_path):
    values: dict[str, Any] = {
        "models": ("ref-position-biased",),
        "strategies": ("plain",),
        "trials_per_run": 6,
    }
    simulated = build_study("schema", run_fields={"option_order": "fixed"}, seed=4, owner=user, **values)
    others: list[dict[str, Any]] = [
        {"option_order": "reversed"},
        {"prompt_variant": "paraphrase"},
        {"temperature": None},
    ]
    for seed, fields in enumerate(others, start=5):
        build_study("", existing=simulated.study, run_fields=fields, seed=seed, **values)
    link = participant_services.svo_link_create(study=simulated.study, induce="prosocial")
    for pid, pattern in {"a": [1, 9, 9, 1, 5, 9], "b": [5, 5, 5, 5, 5, 9]}.items():
        participant, _ = participant_services.participant_join(link=link, participant_id=pid)
        submission = participant_services.Submission(options=dict(enumerate(pattern, start=1)))
        participant_services.svo_responses_submit(participant=participant, wave=1, submission=submission)
    body = api_client.get(f"/api/v1/studies/{simulated.study.pk}/report").json()
    assert body["humans"]["n_participants"] == 2
    assert body["sensitivity"]["position_bias"]["groups"]
    assert body["sensitivity"]["prompt_variants"]["comparisons"]
    report_validator(tmp_path).validate(body)
    cell = body["automated"]["cells"][0]
    cell["angle"]["n"] = "six"
    with pytest.raises(jsonschema.ValidationError):
        report_validator(tmp_path).validate(body)
