"""Design factors kept apart, failures visible, sensitivity analyses and the per-trial JSON Lines export:
simulated studies in the database, checked against their known construction."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from evaluation import selectors as evaluation_selectors
from evaluation.models import Trial
from evaluation.summary import DESIGN_KEYS
from stats import reports
from stats.report_model import to_json
from tests.stats.builders import build_study

N_BOOT = 100
ONE_CELL: dict[str, Any] = {"models": ("ref-faithful",), "values": ("prosocial",), "strategies": ("plain",)}


def _cells(study):
    return to_json(reports.build_report(study, n_boot=N_BOOT))["automated"]["cells"]


def test_runs_differing_only_in_temperature_are_two_cells(db):
    simulated = build_study("temperatures", trials_per_run=5, run_fields={"temperature": 0.0}, **ONE_CELL)
    build_study("", existing=simulated.study, trials_per_run=5, run_fields={"temperature": 1.0}, **ONE_CELL)
    build_study("", existing=simulated.study, trials_per_run=5, run_fields={"temperature": None}, **ONE_CELL)
    cells = _cells(simulated.study)
    assert len(cells) == 3
    assert all(tuple(cell["design"]) == DESIGN_KEYS for cell in cells)
    assert sorted((c["design"]["temperature"] is None, c["design"]["temperature"] or 0) for c in cells) == [
        (False, 0.0),
        (False, 1.0),
        (True, 0),
    ]
    assert all(cell["n_trials"] == 5 for cell in cells)
    cli = evaluation_selectors.study_summaries(study=simulated.study)
    assert [s.design.to_dict() for s in cli] == [c["design"] for c in cells]


def test_variants_orders_labels_items_and_definitions_are_kept_apart(db):
    base = {"temperature": 1.0}
    simulated = build_study("designs", trials_per_run=4, run_fields=base, **ONE_CELL)
    for change in (
        {"prompt_variant": "paraphrase"},
        {"option_order": "reversed"},
        {"option_labels": "numbers"},
        {"item_set": "all"},
        {"definitions_version": "hvae-svo/0-test"},
    ):
        build_study("", existing=simulated.study, trials_per_run=4, run_fields=base | change, **ONE_CELL)
    cells = _cells(simulated.study)
    assert len(cells) == 6
    assert len({json.dumps(c["design"], sort_keys=True) for c in cells}) == 6
    typed = reports.build_report(simulated.study, n_boot=N_BOOT)
    report = to_json(typed)
    assert report["methods"]["definitions_versions_of_runs"] == sorted(
        {"hvae-svo/0-test", cells[0]["design"]["definitions"]}
    )
    assert report["definitions"]["versions_present"] == report["methods"]["definitions_versions_of_runs"]
    assert len(typed.consistency.cells) == 6
    assert all(tuple(cell.design) == DESIGN_KEYS for cell in typed.consistency.cells)
    assert len({cell.design_label for cell in typed.consistency.cells}) == 6


def test_test_retest_pairs_only_runs_of_identical_design(db):
    simulated = build_study("retest", trials_per_run=4, run_fields={"temperature": 0.0}, **ONE_CELL)
    build_study("", existing=simulated.study, trials_per_run=4, run_fields={"temperature": 1.0}, **ONE_CELL)
    report = reports.build_report(simulated.study, n_boot=N_BOOT)
    assert report.consistency.test_retest_cells == 0
    build_study("", existing=simulated.study, trials_per_run=4, run_fields={"temperature": 1.0}, **ONE_CELL)
    report = reports.build_report(simulated.study, n_boot=N_BOOT)
    assert report.consistency.test_retest_cells == 1


def test_failed_trials_pull_intention_to_treat_vr_below_scored_only_vr(db):
    simulated = build_study(
        "failures",
        trials_per_run=10,
        failed_per_run=3,
        reasked_share=0.25,
        models=("ref-faithful",),
        values=("competitive",),
        strategies=("plain",),
    )
    (cell,) = _cells(simulated.study)
    scored = [
        float(vr or 0)
        for vr in Trial.objects.filter(run__study=simulated.study, status="scored").values_list(
            "value_rationality", flat=True
        )
    ]
    assert len(scored) == 7
    assert cell["n_failed"] == cell["failures"]["failed_trials"] == 3
    assert cell["value_rationality"]["value"] == pytest.approx(np.mean(scored))
    assert cell["value_rationality_itt"]["value"] == pytest.approx(sum(scored) / 10)
    assert cell["value_rationality_itt"]["value"] < cell["value_rationality"]["value"]
    assert cell["value_rationality_itt"]["n"] == 10
    assert cell["value_rationality_itt"]["ci_low"] < cell["value_rationality_itt"]["value"]
    reasked = simulated.study.runs.get().trials.filter(responses__reasked=True).count()
    assert cell["failures"]["reasked_items"] == reasked > 0
    (cli,) = evaluation_selectors.study_summaries(study=simulated.study)
    assert cli.to_dict() == {key: value for key, value in cell.items() if key != "reference_agent"}


def test_position_bias_section_recovers_the_simulated_probability(db):
    values: dict[str, Any] = {
        "models": ("ref-position-biased",),
        "strategies": ("plain",),
        "trials_per_run": 25,
    }
    simulated = build_study(
        "position", run_fields={"option_order": "fixed"}, position_bias=0.3, seed=4, **values
    )
    build_study(
        "",
        existing=simulated.study,
        run_fields={"option_order": "reversed"},
        position_bias=0.3,
        seed=5,
        **values,
    )
    section = to_json(reports.build_report(simulated.study, n_boot=N_BOOT))["sensitivity"]["position_bias"]
    (model,) = section["by_model"]
    first = model["position_pick_first"]
    assert first["ci_low"] <= 0.3 <= first["ci_high"]
    assert first["p_value"] < 1e-6
    assert model["position_pick_last"]["ci_low"] <= 0.02
    assert len(section["groups"]) == 4
    group = section["groups"][0]
    assert group["orders"] == ["fixed", "reversed"]
    assert "order" not in group["design"]
    assert sum(group["distribution"]["fixed"]["by_position"]) == group["distribution"]["fixed"]["n"] == 150
    assert group["reversed_minus_fixed"]["angle"]["n"] == 50
    assert group["order_dependence"]["cramers_v"] > 0


def test_prompt_variant_comparisons_are_holm_adjusted_with_eta_squared(db):
    cell: dict[str, Any] = {"models": ("ref-faithful",), "strategies": ("plain",), "trials_per_run": 8}
    simulated = build_study("variants", run_fields={"temperature": 1.0}, noise={"ref-faithful": 0.1}, **cell)
    build_study(
        "",
        existing=simulated.study,
        run_fields={"temperature": 1.0, "prompt_variant": "paraphrase"},
        noise={"ref-faithful": 0.6},
        **cell,
    )
    build_study(
        "",
        existing=simulated.study,
        run_fields={"temperature": None, "prompt_variant": "paper"},
        noise={"ref-faithful": 0.3},
        **cell,
    )
    section = to_json(reports.build_report(simulated.study, n_boot=N_BOOT))["sensitivity"]["prompt_variants"]
    assert section["family_size"] == 4 * 3
    assert len(section["comparisons"]) == 12
    for comparison in section["comparisons"]:
        for measure in ("angle", "value_rationality"):
            difference = comparison[measure]
            if difference["p_value"] is not None:
                assert difference["p_holm"] >= difference["p_value"]
                assert difference["ci_low_adjusted"] <= difference["ci_low"]
    paper = [c for c in section["comparisons"] if "paper" in (c["first"], c["second"])]
    assert {c["first_temperature"] for c in paper} | {c["second_temperature"] for c in paper} == {None, 1.0}
    (variance,) = section["variance_explained"]
    assert variance["eta_squared_value"]["value"] > variance["eta_squared_variant"]["value"] >= 0
    assert variance["eta_squared_value"]["n"] == 4 * 3 * 8


@pytest.fixture
def client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_page_shows_the_sensitivity_section_and_the_jsonl_download(client, user):
    values: dict[str, Any] = {
        "models": ("ref-position-biased",),
        "strategies": ("plain",),
        "trials_per_run": 6,
    }
    simulated = build_study(
        "page", run_fields={"option_order": "fixed"}, position_bias=0.3, owner=user, **values
    )
    build_study(
        "", existing=simulated.study, run_fields={"option_order": "random"}, position_bias=0.3, **values
    )
    page = client.get(reverse("study-page", args=[simulated.study.pk])).content.decode()
    assert 'id="sensitivity"' in page
    assert 'id="position-bias-models"' in page
    assert 'id="position-bias"' in page
    assert "P(choose the option displayed first)" in page
    assert "No (model, value, strategy) was run under more than one prompt variant" in page
    assert "intention-to-treat" in page
    link = reverse("study-raw-data", args=[simulated.study.pk, "trials", "jsonl"])
    assert f'href="{link}"' in page
    response = client.get(link)
    assert response.status_code == 200
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert len(lines) == 2 * 4 * 6
    assert all(json.loads(line)["design"]["order"] in {"fixed", "random"} for line in lines)


def test_study_report_jsonl_writes_one_parseable_line_per_trial(db, tmp_path):
    simulated = build_study("jsonl", trials_per_run=3, failed_per_run=1, reasked_share=0.5, **ONE_CELL)
    out = tmp_path / "trials.jsonl"
    call_command("study_report", study="jsonl", format="jsonl", out=str(out))
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(records) == 3
    assert [r["status"] for r in records] == ["scored", "scored", "failed"]
    run = simulated.study.runs.get()
    for record in records:
        assert tuple(record["design"]) == DESIGN_KEYS
        assert record["definitions_version"] == run.definitions_version == record["design"]["definitions"]
        assert record["provenance"] == run.provenance != {}
        assert set(record["scores"]) >= {"angle", "category", "value_rationality", "angular_deviation"}
    scored = records[0]
    assert scored["transcript"][0]["role"] == "user"
    assert len(scored["responses"]) == 6
    for response in scored["responses"]:
        assert sorted(response["presented_order"]) == list(range(1, 10))
        assert response["extraction_method"] == "parser"
        assert isinstance(response["reasked"], bool)
        assert 1 <= response["extracted_option"] <= 9
    assert records[2]["failure_reason"]
    assert records[2]["responses"] == []
    assert records[2]["scores"]["value_rationality"] is None
