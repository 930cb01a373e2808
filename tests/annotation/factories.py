"""Rows for annotation tests, made directly through the ORM (no evaluation pipeline needed)."""

from __future__ import annotations

import itertools
from typing import Any

from evaluation import svo
from evaluation.models import EvaluationRun, ItemResponse, ModelEndpoint, Study, Trial

_counter = itertools.count(1)


def make_study(name: str = "", **fields: Any) -> Study:
    return Study.objects.create(name=name or f"study-{next(_counter)}", **fields)


def make_endpoint(*, reference: bool = True) -> ModelEndpoint:
    n = next(_counter)
    return ModelEndpoint.objects.create(
        name=f"endpoint-{n}", base_url=f"http://127.0.0.1:9/{n}/v1", is_reference=reference
    )


def make_trials(
    study: Study,
    *,
    model: str = "ref-faithful",
    value: str = "prosocial",
    strategy: str = "plain",
    n: int = 3,
    option: int = 5,
    category: str | None = None,
    reference: bool = True,
    answer: str = "I choose option {option}.",
) -> list[Trial]:
    """``n`` scored trials of one run; every primary item answered with ``option``. The category defaults to
    the induced value with a hit, as a faithful reference agent's would be."""
    run = EvaluationRun.objects.create(
        study=study,
        endpoint=make_endpoint(reference=reference),
        model=model,
        value=value,
        strategy=strategy,
        n_trials=n,
        status=EvaluationRun.Status.COMPLETED,
    )
    category = category or value
    trials = []
    for index in range(n):
        transcript = [
            {"role": "system", "content": "You are a participant."},
            {"role": "user", "content": f"Describe a person with a {value} social value orientation."},
            {"role": "assistant", "content": f"A {value} person is someone who ..."},
            {"role": "user", "content": "Act as that person. Decision 1 of 6. Options: ..."},
            {"role": "assistant", "content": answer.format(option=option)},
        ]
        trial = Trial.objects.create(
            run=run,
            index=index,
            status=Trial.Status.SCORED,
            transcript=transcript,
            angle=45.0,
            category=category,
            category_hit=category == value,
        )
        for item in svo.PRIMARY_ITEMS:
            own, other = item.allocation(option)
            ItemResponse.objects.create(
                trial=trial,
                item=item.number,
                presented_order=list(range(1, 10)),
                raw_text=answer.format(option=option),
                extracted_option=option,
                extraction_method=ItemResponse.Method.PARSER,
                payoff_self=own,
                payoff_other=other,
            )
        trials.append(trial)
    return trials


def make_design_study(name: str = "") -> Study:
    """A small study: two models (one reference, one not) over two values, 4 trials each = 16 trials."""
    study = make_study(name)
    for value in ("prosocial", "individualistic"):
        make_trials(study, model="ref-faithful", value=value, n=4)
        make_trials(study, model="gpt-test", value=value, n=4, reference=False, category="prosocial")
    return study


def annotation(
    annotation_id: int,
    *,
    category: str = "prosocial",
    angle: float = 40.0,
    confidence: int = 4,
    comment: str = "",
    user: int | None = 7,
    extra: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A Label Studio annotation as its webhooks and API serialise it."""
    result: list[dict[str, Any]] = [
        {
            "from_name": "orientation",
            "to_name": "dialogue",
            "type": "choices",
            "value": {"choices": [category]},
        },
        {"from_name": "angle", "to_name": "dialogue", "type": "number", "value": {"number": angle}},
        {"from_name": "confidence", "to_name": "dialogue", "type": "rating", "value": {"rating": confidence}},
    ]
    if comment:
        result.append(
            {"from_name": "comment", "to_name": "dialogue", "type": "textarea", "value": {"text": [comment]}}
        )
    return {
        "id": annotation_id,
        "result": result + (extra or []),
        "completed_by": user,
        "lead_time": 12.5,
        "was_cancelled": False,
        "created_at": "2026-01-02T03:04:05.123456Z",
        "updated_at": "2026-01-02T03:04:05.123456Z",
    }
