"""The arms of a batch: what raters see (blind, value-shown, informed), what is sent to Label Studio, the
answers read back, the default overlap of 3, and the arm as part of a batch's identity."""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET  # parses only the XML our own code generates
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from rest_framework.test import APIClient

from annotation import labeling, services
from annotation.labelstudio import ImportResult
from annotation.models import AnnotationBatch, AnnotationTask, HumanJudgment
from evaluation.models import ItemResponse, Study, Trial
from hvae_site.api import DomainError
from tests.annotation.factories import annotation, make_study, make_trials

# Names of everything the pipeline computes: none may be a key of blind or value-shown task data.
AUTOMATED_KEYS = {
    "choices",
    "option",
    "options",
    "extracted_option",
    "payoff",
    "payoffs",
    "payoff_self",
    "payoff_other",
    "category",
    "category_hit",
    "angle",
    "ring",
    "vr",
    "value_rationality",
    "predictions",
    "prediction",
}

LS_TASK_IDS = itertools.count(9000)  # Label Studio task ids are unique across projects


@dataclass
class RecordingPush:
    """Stands in for the Label Studio adapter in a push: records the project config and the task payload."""

    configs: list[str] = field(default_factory=list)
    payloads: list[list[dict[str, Any]]] = field(default_factory=list)
    overlaps: list[dict[int, int]] = field(default_factory=list)
    project_options: list[dict[str, Any]] = field(default_factory=list)

    def ensure_project(self, *, label_config: str, external_key: str, **kwargs: Any) -> int:
        self.configs.append(label_config)
        self.project_options.append(kwargs)
        return 500 + len(self.configs)

    def import_tasks(self, project_id: int, tasks: list[dict[str, Any]], *, key_field: str) -> ImportResult:
        self.payloads.append(tasks)
        return ImportResult(
            created=len(tasks),
            existing=0,
            task_ids={t["data"][key_field]: next(LS_TASK_IDS) for t in tasks},
        )

    def set_serving(
        self, project_id: int, *, project_settings: dict[str, Any], task_overlaps: dict[int, int]
    ) -> int:
        self.overlaps.append(task_overlaps)
        return len(task_overlaps)

    def register_webhook(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("no webhook secret is set in these tests")

    def close(self) -> None:
        pass


@pytest.fixture
def known_study(db: None) -> Study:
    """Trials whose automated result is known and distinctive: every item answered with option 7, angle 33.3,
    category competitive (while the induced value is prosocial), VR 0.123; the answers name no number."""
    study = make_study()
    trials = make_trials(
        study,
        model="gpt-test",
        value="prosocial",
        n=4,
        option=7,
        category="competitive",
        reference=False,
        answer="I would rather keep things even between us.",
    )
    Trial.objects.filter(pk__in=[t.pk for t in trials]).update(angle=33.3, value_rationality=0.123)
    return study


def strings_and_keys(node: Any) -> Iterator[tuple[str, str]]:
    """Every ("key", name) and ("text", string) anywhere in a JSON-like structure."""
    if isinstance(node, dict):
        for name, entry in node.items():
            yield "key", str(name)
            yield from strings_and_keys(entry)
    elif isinstance(node, list | tuple):
        for entry in node:
            yield from strings_and_keys(entry)
    else:
        yield "text", str(node)


def push(study: Study, **options: Any) -> tuple[AnnotationBatch, RecordingPush]:
    client = RecordingPush()
    result = services.annotation_batch_push(study=study, size=4, client=client, **options)  # type: ignore[arg-type]
    return result.batch, client


def automated_tokens(study: Study) -> set[str]:
    """The automated results of the study's trials as they could be written: options, payoffs, angle, VR."""
    tokens: set[str] = set()
    for r in ItemResponse.objects.filter(trial__run__study=study):
        tokens |= {f"option {r.extracted_option}", str(r.payoff_self), str(r.payoff_other)}
    for trial in Trial.objects.filter(run__study=study):
        tokens |= {str(trial.angle), f"{trial.angle:g}", str(trial.value_rationality)}
    return tokens


def test_blind_push_sends_only_the_transcript_the_model_saw(known_study: Study) -> None:
    batch, client = push(known_study)
    assert batch.arm == "blind"
    [payload] = client.payloads
    tokens = automated_tokens(known_study)
    assert tokens  # the trials do have extracted options, payoffs, an angle and a VR
    shown_texts = set()
    for trial in Trial.objects.filter(run__study=known_study):
        shown_texts |= {m["content"] for m in trial.transcript[3:]}  # from the task on, no induction

    for task in payload:
        assert set(task) == {"data"}  # no predictions
        assert set(task["data"]) == {"hvae_key", "dialogue"}
        for kind, text in strings_and_keys(task):
            if kind == "key":
                assert text.lower() not in AUTOMATED_KEYS | {"value", "served_value"}
                continue
            assert text in shown_texts | {"Researcher", "Agent"} or text.startswith(batch.key)
            words = set(re.findall(r"[\w.]+", text.lower()))
            assert not words & {"competitive", "prosocial", "altruistic", "individualistic"}
            for token in tokens:
                assert not re.search(rf"(?<![\w.]){re.escape(token)}(?![\w.])", text), (token, text)


def test_blind_label_config_has_no_angle_ring_choices_prediction_or_value(known_study: Study) -> None:
    _, client = push(known_study, extraction_audit=True)
    [config] = client.configs
    root = ET.fromstring(config)  # noqa: S314
    names = {element.get("name") for element in root.iter()}
    values = " ".join(element.get("value") or "" for element in root.iter())

    assert root.find("Number") is None
    assert root.find("HyperText") is None
    assert not names & {"angle", "ring", "choices", "value", "served_value", "prediction"}
    assert "$choices" not in values
    assert "$ring" not in values
    assert "$value" not in values
    assert "degree" not in config.lower()
    assert "svg" not in config.lower()
    orientation = root.find("Choices[@name='orientation']")
    assert orientation is not None
    assert [c.get("value") for c in orientation] == [
        "altruistic",
        "prosocial",
        "individualistic",
        "competitive",
        "unclear",
    ]
    rating = root.find("Rating[@name='confidence']")
    assert rating is not None
    assert rating.get("maxRating") == "5"
    item = root.find("Choices[@name='item_1']")  # the extraction audit is still offered
    assert item is not None
    assert [c.get("value") for c in item][-1] == "unclear"


def test_value_shown_adds_the_induced_value_and_the_served_value_question_only(known_study: Study) -> None:
    batch, client = push(known_study, arm="value-shown")
    [config] = client.configs
    root = ET.fromstring(config)  # noqa: S314
    served = root.find("Rating[@name='served_value']")
    assert served is not None
    assert served.get("maxRating") == "7"
    assert "How well did the agent's decisions serve that value?" in config
    assert root.find("Text[@name='value']") is not None
    assert root.find("Number") is None
    assert root.find("HyperText") is None
    assert root.find("Text[@name='choices']") is None
    tokens = automated_tokens(known_study)
    for task in client.payloads[0]:
        assert set(task) == {"data"}
        assert set(task["data"]) == {"hvae_key", "dialogue", "value"}
        assert task["data"]["value"] == "prosocial"
        for kind, text in strings_and_keys(task["data"]["dialogue"]):
            if kind == "text":
                assert "competitive" not in text
                assert not any(re.search(rf"(?<![\w.]){re.escape(t)}(?![\w.])", text) for t in tokens)
    assert batch.arm == "value-shown"


def test_informed_shows_todays_view(known_study: Study) -> None:
    _, client = push(known_study, arm="informed", show_prediction=True)
    root = ET.fromstring(client.configs[0])  # noqa: S314
    orientation = root.find("Choices[@name='orientation']")
    assert orientation is not None
    assert [c.get("value") for c in orientation] == [
        "altruistic",
        "prosocial",
        "individualistic",
        "competitive",
    ]
    assert root.find("Number[@name='angle']") is not None
    assert root.find("HyperText[@name='ring']") is not None
    assert root.find("Text[@name='choices']") is not None
    assert root.find("Rating[@name='served_value']") is None
    task = client.payloads[0][0]
    assert set(task["data"]) == {"hvae_key", "dialogue", "ring", "choices"}
    assert "option 7" in task["data"]["choices"]
    assert task["predictions"][0]["result"][0]["value"] == {"choices": ["competitive"]}


@pytest.mark.parametrize("arm", ["blind", "value-shown"])
def test_a_prediction_is_refused_outside_the_informed_arm(known_study: Study, arm: str) -> None:
    with pytest.raises(DomainError, match="never shows the automated result") as error:
        push(known_study, arm=arm, show_prediction=True)
    assert error.value.field == "show_prediction"
    assert not AnnotationBatch.objects.exists()
    with pytest.raises(labeling.ArmError):
        labeling.check_arm(arm, show_prediction=True)


def test_task_data_returns_only_the_arms_fields() -> None:
    common: dict[str, Any] = {
        "key": "k",
        "transcript": [{"role": "user", "content": "Decide"}],
        "choices": [(1, 3, 85, 76)],
        "value": "altruistic",
    }
    assert set(labeling.task_data(arm="blind", **common)) == {"hvae_key", "dialogue"}
    assert set(labeling.task_data(arm="value-shown", **common)) == {"hvae_key", "dialogue", "value"}
    assert set(labeling.task_data(arm="informed", **common)) == {"hvae_key", "dialogue", "ring", "choices"}
    with pytest.raises(labeling.ArmError, match="arm must be one of"):
        labeling.task_data(arm="peek", **common)


def test_unclear_and_the_served_value_rating_are_parsed_and_stored(batch: AnnotationBatch) -> None:
    served = {"from_name": "served_value", "to_name": "dialogue", "type": "rating", "value": {"rating": 6}}
    raw = annotation(77, category="unclear", extra=[served])
    raw["result"] = [r for r in raw["result"] if r["from_name"] != "angle"]
    parsed = labeling.parse_result(raw["result"])
    assert (parsed.category, parsed.served_value, parsed.angle_estimate) == ("unclear", 6, None)

    task = AnnotationTask.objects.filter(batch=batch).first()
    assert task is not None
    from annotation.labelstudio import parse_annotation

    record = parse_annotation(raw, {"id": 1, "data": {"hvae_key": task.key}})
    outcome = services.judgment_upsert(record=record)
    assert outcome is not None
    judgment = HumanJudgment.objects.get(pk=outcome[0].pk)
    judgment.full_clean()
    assert (judgment.category, judgment.served_value) == ("unclear", 6)


@pytest.mark.parametrize("rating", [0, 8, "7", True])
def test_a_served_value_rating_outside_1_to_7_is_refused(rating: Any) -> None:
    with pytest.raises(labeling.ResultError, match=r"served_value must be 1\.\.7"):
        labeling.parse_result([{"from_name": "served_value", "value": {"rating": rating}}])


def test_overlap_defaults_to_3_and_1_needs_the_explicit_flag(known_study: Study) -> None:
    batch, _ = push(known_study)
    assert batch.overlap == 3
    with pytest.raises(DomainError, match="inter-rater reliability would be unavailable") as error:
        push(known_study, overlap=1)
    assert error.value.field == "overlap"
    assert AnnotationBatch.objects.count() == 1
    single, _ = push(known_study, overlap=1, allow_single_rater=True)
    assert single.overlap == 1


def test_the_arm_is_part_of_the_batch_identity(known_study: Study) -> None:
    blind, _ = push(known_study, seed=3)
    again, _ = push(known_study, seed=3)
    informed, _ = push(known_study, seed=3, arm="informed")
    assert again.pk == blind.pk
    assert informed.pk != blind.pk
    assert (blind.arm, informed.arm) == ("blind", "informed")
    assert AnnotationBatch.objects.count() == 2


def test_cli_overlap_1_without_the_flag_exits_2(known_study: Study, settings: Any) -> None:
    settings.LABEL_STUDIO_URL = "http://127.0.0.1:9"
    settings.LABEL_STUDIO_API_KEY = "some-key"
    with pytest.raises(CommandError, match="inter-rater reliability would be unavailable") as error:
        call_command("annotation_push", "--study", known_study.name, "--size", "3", "--overlap", "1")
    assert error.value.returncode == 2
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("annotation_push", "--study", known_study.name, "--size", "3", "--arm", "peek")
    assert not AnnotationBatch.objects.exists()


def test_api_arm_and_single_rater(api_client: APIClient, study: Study) -> None:
    single = api_client.post("/api/v1/batches", {"study": study.pk, "size": 3, "overlap": 1}, format="json")
    assert single.status_code == 400
    assert "inter-rater reliability would be unavailable" in str(single.json()["overlap"])
    bad_arm = api_client.post("/api/v1/batches", {"study": study.pk, "size": 3, "arm": "peek"}, format="json")
    assert bad_arm.status_code == 400
    assert set(bad_arm.json()) == {"arm"}
    prediction = api_client.post(
        "/api/v1/batches",
        {"study": study.pk, "size": 3, "arm": "blind", "show_prediction": True},
        format="json",
    )
    assert prediction.status_code == 400
    assert "show_prediction" in prediction.json()
    assert not AnnotationBatch.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_batches_made_before_arms_migrate_to_informed_and_new_ones_are_blind() -> None:
    before = [("annotation", "0003_participants")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old_apps = executor.loader.project_state(before).apps
    old_study = old_apps.get_model("evaluation", "Study").objects.create(name="made-before-arms")
    old_batch = old_apps.get_model("annotation", "AnnotationBatch").objects.create(
        study=old_study, size=2, overlap=1, show_prediction=True
    )

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    migrated = AnnotationBatch.objects.get(pk=old_batch.pk)
    assert migrated.arm == "informed"
    assert migrated.show_prediction
    new = AnnotationBatch.objects.create(study_id=old_study.pk, size=2)
    assert (new.arm, new.overlap) == ("blind", 3)


def test_admin_lists_and_filters_by_arm_and_keeps_it_fixed(
    admin_client: Client, batch: AnnotationBatch
) -> None:
    listing = admin_client.get("/admin/annotation/annotationbatch/", {"arm": "blind"}).content.decode()
    page = admin_client.get(f"/admin/annotation/annotationbatch/{batch.pk}/change/").content.decode()

    assert "blind: the transcript only" in listing
    assert 'name="arm"' not in page  # read-only once made: the arm is part of the batch's identity
    assert "blind: the transcript only" in page


def test_the_induction_turns_are_refused_in_the_blind_arm(known_study: Study) -> None:
    # they name the induced value, which the blind arm hides
    with pytest.raises(DomainError, match="blind arm never shows the induced value") as error:
        push(known_study, arm="blind", show_induction=True)
    assert error.value.field == "show_induction"
    assert not AnnotationBatch.objects.exists()
    with pytest.raises(labeling.ArmError):
        labeling.check_arm("blind", show_induction=True)
    labeling.check_arm("value-shown", show_induction=True)
    labeling.check_arm("informed", show_induction=True)


def test_the_label_studio_project_text_names_nothing_of_the_design(known_study: Study) -> None:
    batch, client = push(known_study)
    [options] = client.project_options
    text = f"{options['title']} {options['description']}"
    assert known_study.name in text
    for word in ("blind", " arm", "overlap", "seed", f"n={batch.size}"):
        assert word not in text, word
