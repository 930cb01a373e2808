"""The one service that starts runs: designs checked, endpoints probed, runs created and started."""

from __future__ import annotations

import pytest

from evaluation import launch, services
from evaluation.models import EvaluationRun, LLMCall, Trial
from hvae_site.api import DomainError


def designs(*models: str, **fields) -> list[services.RunDesign]:
    return [
        services.RunDesign(model=model, value=value, n_trials=2, **fields)
        for model in models
        for value in ("prosocial", "competitive")
    ]


def test_creates_one_run_per_design_and_reuses_them(study, reference_endpoint) -> None:
    first = launch.evaluation_runs_start(
        study=study, endpoint=reference_endpoint, designs=designs("ref-faithful", "ref-random"), start=False
    )
    assert first.started == ""
    assert [(r.model, r.value) for r in first.runs] == [
        ("ref-faithful", "prosocial"),
        ("ref-faithful", "competitive"),
        ("ref-random", "prosocial"),
        ("ref-random", "competitive"),
    ]
    assert Trial.objects.filter(status=Trial.Status.PENDING).count() == 8
    assert all(r.provenance["packages"]["Django"] for r in first.runs)
    again = launch.evaluation_runs_start(
        study=study, endpoint=reference_endpoint, designs=designs("ref-faithful", "ref-random"), start=False
    )
    assert [r.pk for r in again.runs] == [r.pk for r in first.runs]
    reference_endpoint.refresh_from_db()
    assert reference_endpoint.is_reference


@pytest.mark.parametrize(
    ("models", "fields", "field", "message"),
    [
        (["ref-faithful", "gpt-none"], {}, "model", "does not serve model(s) gpt-none"),
        (
            ["ref-faithful"],
            {"extractor_model": "gpt-none"},
            "extractor_model",
            "does not serve model(s) gpt-none",
        ),
        (["ref-faithful"], {"on_unreadable": "hope"}, "on_unreadable", "Unknown on_unreadable"),
        (["ref-faithful"], {"temperature": -1.0}, "temperature", "between 0 and 2"),
        (["ref-faithful"], {"prompt_variant": "paper", "item_set": "all"}, "item_set", "six primary items"),
    ],
)
def test_bad_designs_create_nothing(study, reference_endpoint, models, fields, field, message) -> None:
    with pytest.raises(DomainError, match=message.replace("(", r"\(").replace(")", r"\)")) as error:
        launch.evaluation_runs_start(
            study=study, endpoint=reference_endpoint, designs=designs(*models, **fields)
        )
    assert error.value.field == field
    assert not EvaluationRun.objects.exists()
    assert not LLMCall.objects.exists()


def test_an_unreachable_extractor_endpoint_is_named(study, reference_endpoint) -> None:
    extractor = services.endpoint_get_or_create(base_url="http://127.0.0.1:9/v1")
    with pytest.raises(DomainError, match=r"extractor endpoint: .*not reachable") as error:
        launch.evaluation_runs_start(
            study=study,
            endpoint=reference_endpoint,
            designs=designs("ref-faithful", extractor_model="ref-extractor"),
            extractor_endpoint=extractor,
        )
    assert error.value.field == "extractor_endpoint"
    assert not EvaluationRun.objects.exists()


def test_an_extractor_endpoint_needs_an_extractor_model(study, reference_endpoint) -> None:
    with pytest.raises(DomainError) as error:
        launch.evaluation_runs_start(
            study=study,
            endpoint=reference_endpoint,
            designs=designs("ref-faithful"),
            extractor_endpoint=reference_endpoint,
        )
    assert error.value.field == "extractor_model"
