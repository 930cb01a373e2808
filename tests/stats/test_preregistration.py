"""preregister: a stable hash of the analysis plan, stored; the report lists every deviation from it."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from stats import preregistration, reports
from stats.models import Preregistration
from stats.preregistration import Deviation
from stats.report_model import to_json

PLAN: dict[str, dict[str, Any]] = {
    "study": {"id": 1, "name": "s"},
    "exclusion": {"gold_fail_threshold": 0.5, "include_flagged_by_default": False},
    "seeds": {"n_boot": 1000, "batch_seeds": [3, 4]},
}


def _plan(**changes):
    return preregistration.plan_document(
        study_id=7,
        study_name="study ß",
        batches=changes.get(
            "batches",
            [
                {
                    "batch": 2,
                    "size": 40,
                    "overlap": 3,
                    "seed": 9,
                    "gold": 4,
                    "tasks_per_rater": 20,
                    "gold_fail_threshold": 0.5,
                    "sampling_spec": {"strata": {"a": 1, "b": 2}},
                },
                {
                    "batch": 1,
                    "size": 10,
                    "overlap": 2,
                    "seed": 1,
                    "gold": 0,
                    "tasks_per_rater": 5,
                    "gold_fail_threshold": 0.6,
                    "sampling_spec": {},
                },
            ],
        ),
        include_flagged_by_default=False,
        designs=changes.get(
            "designs",
            [
                {"model": "m", "value": "prosocial", "temperature": 0.7},
                {"model": "m", "value": "prosocial", "temperature": 0.7},
                {"model": "a", "value": "altruistic", "temperature": None},
            ],
        ),
        report_version="r/1",
        definitions_version="d/1",
        bootstrap_seed=0,
        n_boot=1000,
    )


def test_the_hash_is_stable_across_runs_and_dict_orderings():
    digest = preregistration.plan_hash(PLAN)
    assert digest == preregistration.plan_hash(json.loads(json.dumps(PLAN)))
    reordered = {key: dict(reversed(list(value.items()))) for key, value in reversed(list(PLAN.items()))}
    assert list(reordered) != list(PLAN)
    assert preregistration.plan_hash(reordered) == digest
    assert preregistration.canonical_json(reordered) == preregistration.canonical_json(PLAN)
    assert len(digest) == 64
    assert int(digest, 16) >= 0
    assert preregistration.plan_hash(_plan()) == preregistration.plan_hash(_plan())


def test_plan_document_does_not_depend_on_input_order_and_collapses_designs():
    plan = _plan()
    batches = [
        {
            "batch": 1,
            "size": 10,
            "overlap": 2,
            "seed": 1,
            "gold": 0,
            "tasks_per_rater": 5,
            "gold_fail_threshold": 0.6,
            "sampling_spec": {},
        },
        {
            "batch": 2,
            "size": 40,
            "overlap": 3,
            "seed": 9,
            "gold": 4,
            "tasks_per_rater": 20,
            "gold_fail_threshold": 0.5,
            "sampling_spec": {"strata": {"b": 2, "a": 1}},
        },
    ]
    designs = [
        {"value": "altruistic", "model": "a", "temperature": None},
        {"temperature": 0.7, "value": "prosocial", "model": "m"},
    ]
    assert preregistration.plan_hash(_plan(batches=batches, designs=designs)) == preregistration.plan_hash(
        plan
    )
    assert len(plan["designs"]) == 2
    assert [b["batch"] for b in plan["sampling"]] == [1, 2]
    assert plan["seeds"]["batch_seeds"] == [1, 9]
    assert plan["exclusion"]["batches"][1] == {
        "batch": 2,
        "gold": 4,
        "gold_per_rater": None,
        "gold_min_answered": None,
        "gold_fail_threshold": 0.5,
    }


def test_a_changed_value_changes_the_hash():
    changed = json.loads(json.dumps(PLAN))
    changed["exclusion"]["gold_fail_threshold"] = 0.6
    assert preregistration.plan_hash(changed) != preregistration.plan_hash(PLAN)
    assert preregistration.canonical_json({"x": 0.1}) == '{"x":0.1}'
    with pytest.raises(ValueError, match="finite"):
        preregistration.canonical_json({"x": float("nan")})


def test_deviations_walk_nested_dicts_and_lists():
    assert preregistration.deviations(PLAN, json.loads(json.dumps(PLAN))) == []
    changed = json.loads(json.dumps(PLAN))
    changed["exclusion"]["gold_fail_threshold"] = 0.7
    changed["seeds"]["batch_seeds"].append(5)
    changed["seeds"]["n_boot"] = 1000.0  # the same number
    del changed["study"]["name"]
    assert preregistration.deviations(PLAN, changed) == [
        Deviation("exclusion.gold_fail_threshold", 0.5, 0.7),
        Deviation("seeds.batch_seeds[2]", None, 5),
        Deviation("study.name", "s", None),
    ]
    assert preregistration.deviations({"a": True}, {"a": 1}) == [Deviation("a", True, 1)]


@pytest.mark.django_db
def test_the_command_stores_one_registration_and_prints_its_hash(validated_study, tmp_path):
    study = validated_study.study
    out = io.StringIO()
    call_command("preregister", study=study.name, stdout=out)
    registration = Preregistration.objects.get(study=study)
    assert out.getvalue().strip() == registration.sha256
    assert registration.sha256 == preregistration.plan_hash(registration.plan)
    assert registration.plan_json == preregistration.canonical_json(registration.plan)
    plan = registration.plan
    assert plan["study"] == {"id": study.pk, "name": study.name}
    batch = validated_study.batches[0]
    assert plan["sampling"][0]["size"] == batch.size
    assert plan["sampling"][0]["overlap"] == batch.overlap
    assert plan["exclusion"]["batches"] == [
        {
            "batch": batch.pk,
            "gold": batch.gold,
            "gold_per_rater": batch.gold_per_rater,
            "gold_min_answered": batch.gold_min_answered,
            "gold_fail_threshold": batch.gold_fail_threshold,
        }
    ]
    assert plan["exclusion"]["include_flagged_by_default"] is False
    assert plan["statistics"]["report_version"] == reports.REPORT_VERSION
    assert plan["seeds"]["n_boot"] == reports.DEFAULT_N_BOOT
    assert len(plan["designs"]) == 16  # 2 models x 4 values x 2 strategies, each run twice
    assert registration.sha256 in registration.html
    assert list(tmp_path.iterdir()) == []  # nothing written without --out

    # the same plan again: the same hash, a second row; --out writes the JSON and HTML
    call_command("preregister", study=str(study.pk), out=str(tmp_path), stdout=io.StringIO())
    assert Preregistration.objects.filter(study=study).count() == 2
    assert Preregistration.objects.filter(study=study, sha256=registration.sha256).count() == 2
    stem = f"prereg-{study.pk}-{registration.sha256[:12]}"
    assert sorted(path.name for path in tmp_path.iterdir()) == [f"{stem}.html", f"{stem}.json"]
    assert (tmp_path / f"{stem}.json").read_text() == registration.plan_json


@pytest.mark.django_db
def test_a_registration_is_never_edited(validated_study):
    call_command("preregister", study=validated_study.study.name, stdout=io.StringIO())
    registration = Preregistration.objects.get()
    registration.sha256 = "0" * 64
    with pytest.raises(ValueError, match="never edited"):
        registration.save()


@pytest.mark.django_db
def test_an_unknown_study_exits_2_and_stores_nothing(validated_study, tmp_path):
    with pytest.raises(CommandError) as raised:
        call_command("preregister", study="no-such-study", stdout=io.StringIO())
    assert raised.value.returncode == 2
    with pytest.raises(CommandError) as raised:
        call_command("preregister", study="validated", out=str(tmp_path / "missing"), stdout=io.StringIO())
    assert raised.value.returncode == 2
    assert not Preregistration.objects.exists()


@pytest.mark.django_db
def test_the_report_follows_the_plan_until_an_exclusion_rule_changes(validated_study, user):
    study = validated_study.study
    before = to_json(reports.cached_report(study))["preregistration"]
    assert before == {
        "registered": False,
        "sha256": None,
        "registered_at": None,
        "followed": None,
        "deviations": [],
    }

    call_command("preregister", study=study.name, stdout=io.StringIO())
    registration = Preregistration.objects.get()
    section = to_json(reports.cached_report(study))["preregistration"]  # not the cached report from before
    assert section["registered"] is True
    assert section["sha256"] == registration.sha256
    assert section["followed"] is True
    assert section["deviations"] == []

    batch = validated_study.batches[0]
    batch.gold_fail_threshold = 0.75
    batch.save(update_fields=["gold_fail_threshold"])
    section = to_json(reports.cached_report(study))["preregistration"]  # the changed rule is not served stale
    assert section["followed"] is False
    assert section["deviations"] == [
        {"path": "exclusion.batches[0].gold_fail_threshold", "registered": 0.5, "current": 0.75}
    ]

    client = Client()
    client.force_login(user)
    page = client.get(reverse("study-page", args=[study.pk])).content.decode()
    assert "Pre-registration" in page
    assert registration.sha256 in page
    assert "exclusion.batches[0].gold_fail_threshold" in page
    assert "deviates from the registered plan in 1 place:" in page


@pytest.mark.django_db
def test_the_page_says_when_no_plan_is_registered_and_when_it_was_followed(validated_study, user):
    client = Client()
    client.force_login(user)
    url = reverse("study-page", args=[validated_study.study.pk])
    assert "No analysis plan registered" in client.get(url).content.decode()
    call_command("preregister", study=validated_study.study.name, stdout=io.StringIO())
    page = client.get(url).content.decode()
    assert "The analysis followed the registered plan." in page


@pytest.mark.django_db
def test_the_html_document_escapes_the_plan(validated_study):
    study = validated_study.study
    study.name = '<script>alert("x")</script>'
    study.save(update_fields=["name"])
    call_command("preregister", study=str(study.pk), stdout=io.StringIO())
    html = Preregistration.objects.get().html
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
