"""Simulated studies in the database: scored trials with item responses and LLM calls, and human judgments.

Used by the stats tests and by ``benchmarks/report.py``. Everything is written in bulk (no model instance
per row is saved on its own) and seeded, so a builder call always gives the same study.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from django.utils import timezone

from annotation.models import AnnotationBatch, AnnotationTask, HumanJudgment, Rater
from evaluation import prompts, svo
from evaluation.models import EvaluationRun, ItemResponse, LLMCall, ModelEndpoint, Study, Trial
from evaluation.services import prompt_templates_ensure

BATCH_SIZE = 5000
UNSAFE_TEXT = "<script>alert('model')</script>"


@lru_cache(maxsize=100_000)
def _score(value: str, options: tuple[int, ...]) -> svo.ValueScore:
    return svo.score_value(value, list(options))


@dataclass
class SimulatedStudy:
    study: Study
    trial_ids: list[int] = field(default_factory=list)
    batches: list[AnnotationBatch] = field(default_factory=list)


def build_study(
    name: str,
    *,
    models: Sequence[str] = ("ref-faithful", "ref-random"),
    values: Sequence[str] = svo.VALUES,
    strategies: Sequence[str] = ("plain", "goal"),
    trials_per_run: int = 6,
    runs_per_cell: int = 1,
    noise: dict[str, float] | None = None,
    seed: int = 0,
    with_responses: bool = True,
    unsafe_text: bool = False,
    run_fields: dict[str, Any] | None = None,
    position_bias: float = 0.0,
    failed_per_run: int = 0,
    reasked_share: float = 0.0,
    existing: Study | None = None,
    owner: Any = None,
) -> SimulatedStudy:
    """A study of scored trials: one run per (model, value, strategy) and repeat, each trial choosing the
    value-optimal option on each primary item, or with probability ``noise[model]`` a random one.

    ``run_fields`` sets design fields on every run (e.g. ``temperature``, ``option_order``, ``prompt_variant``);
    when it names an ``option_order`` the options are presented in that order (fixed, reversed, or a seeded
    shuffle per item), else trials alternate fixed and reversed. With probability ``position_bias`` a choice is
    the option displayed first instead (the rule of a position-biased agent). The last ``failed_per_run``
    trials of each run fail (no scores, no responses); a share ``reasked_share`` of responses was re-asked.
    ``existing`` adds the runs to that study instead of creating one."""
    rng = random.Random(seed)
    noise = noise or {"ref-faithful": 0.1, "ref-random": 1.0}
    study = existing or Study.objects.create(
        name=name, description="simulated " + (UNSAFE_TEXT if unsafe_text else ""), owner=owner
    )
    fields = dict(run_fields or {})
    endpoint, _ = ModelEndpoint.objects.get_or_create(
        name="reference agents (simulated)",
        defaults={"base_url": "http://127.0.0.1:9/v1", "is_reference": True},
    )
    templates = prompt_templates_ensure()
    now = timezone.now()
    trials: list[Trial] = []
    runs = []
    for repeat in range(runs_per_cell):
        for model in models:
            for value in values:
                for strategy in strategies:
                    used = prompts.templates_used("dialogue", strategy, fallback_extractor=False)
                    runs.append(
                        EvaluationRun(
                            study=study,
                            endpoint=endpoint,
                            model=model,
                            value=value,
                            strategy=strategy,
                            n_trials=trials_per_run,
                            seed=seed + repeat,
                            status=EvaluationRun.Status.COMPLETED,
                            prompt_versions={
                                n: {"version": templates[n].version, "hash": templates[n].content_hash}
                                for n in used
                            },
                            provenance={"service": "simulated", "packages": {"numpy": "x"}},
                            **fields,
                        )
                    )
    runs = EvaluationRun.objects.bulk_create(runs, batch_size=BATCH_SIZE)
    choices: list[list[int]] = []
    orders: list[list[list[int]]] = []
    failed: list[Trial] = []
    for run in runs:
        ideal = svo.ideal_choices(run.value)
        for index in range(trials_per_run):
            shown = [_presented_order(fields.get("option_order"), index, rng) for _ in ideal]
            chosen = [
                order[0]
                if position_bias and rng.random() < position_bias
                else rng.randint(1, 9)
                if rng.random() < noise.get(run.model, 0.3)
                else option
                for option, order in zip(ideal, shown, strict=True)
            ]
            if index >= trials_per_run - failed_per_run:
                failed.append(
                    Trial(
                        run=run,
                        index=index,
                        seed=rng.randrange(2**31),
                        status=Trial.Status.FAILED,
                        failure_reason="simulated: item 3 unreadable",
                        finished_at=now,
                    )
                )
                continue
            score = _score(run.value, tuple(chosen))
            orders.append(shown)
            trials.append(
                Trial(
                    run=run,
                    index=index,
                    seed=rng.randrange(2**31),
                    status=Trial.Status.SCORED,
                    angle=score.primary.angle,
                    category=score.primary.category,
                    mean_self=score.primary.mean_self,
                    mean_other=score.primary.mean_other,
                    transitive=score.primary.transitive,
                    target_angle=score.target_angle,
                    angular_deviation=score.angular_deviation,
                    value_rationality=score.value_rationality,
                    category_hit=score.category_hit,
                    finished_at=now,
                    transcript=[
                        {"role": "user", "content": f"Describe a person with a {run.value} value system."},
                        {
                            "role": "assistant",
                            "content": "They weigh others' outcomes. " + (UNSAFE_TEXT if unsafe_text else ""),
                        },
                    ],
                )
            )
            choices.append(chosen)
    trials = Trial.objects.bulk_create(trials, batch_size=BATCH_SIZE)
    Trial.objects.bulk_create(failed, batch_size=BATCH_SIZE)
    if with_responses:
        responses = []
        calls = []
        for trial, chosen, shown in zip(trials, choices, orders, strict=True):
            for item, option, order in zip(svo.PRIMARY_ITEMS, chosen, shown, strict=True):
                if "option_order" not in fields:
                    order = list(range(1, 10)) if trial.index % 2 == 0 else list(range(9, 0, -1))
                own, other = item.allocation(option)
                responses.append(
                    ItemResponse(
                        trial=trial,
                        item=item.number,
                        presented_order=order,
                        raw_text=f"I choose option {order.index(option) + 1}. "
                        + (UNSAFE_TEXT if unsafe_text else ""),
                        extracted_option=option,
                        extraction_method=ItemResponse.Method.PARSER,
                        reasked=rng.random() < reasked_share,
                        payoff_self=own,
                        payoff_other=other,
                    )
                )
            calls.append(
                LLMCall(
                    run_id=trial.run_id,
                    trial=trial,
                    purpose="item",
                    item=6,
                    request_messages=[],
                    response_text="...",
                    returned_model=f"{trial.run.model}-2026-01" + (UNSAFE_TEXT if unsafe_text else ""),
                    system_fingerprint="fp_sim",
                )
            )
        ItemResponse.objects.bulk_create(responses, batch_size=BATCH_SIZE)
        LLMCall.objects.bulk_create(calls, batch_size=BATCH_SIZE)
    return SimulatedStudy(study=study, trial_ids=[t.pk for t in trials])


def _presented_order(order: str | None, index: int, rng: random.Random) -> list[int]:
    if order == "reversed":
        return list(range(9, 0, -1))
    if order == "random":
        return rng.sample(range(1, 10), 9)
    return list(range(1, 10))


def add_judgments(
    simulated: SimulatedStudy,
    *,
    n_transcripts: int,
    n_raters: int,
    overlap: int,
    n_gold: int = 0,
    flagged_raters: int = 0,
    label_accuracy: float = 0.8,
    angle_noise: float = 8.0,
    extraction_audit: bool = True,
    seed: int = 1,
    first_annotation_id: int = 1,
) -> AnnotationBatch:
    """One batch: ``n_transcripts`` sampled trials each judged by ``overlap`` raters drawn from ``n_raters``,
    plus ``n_gold`` gold trials judged by every rater. Raters agree with the automated category with
    probability ``label_accuracy`` (the first ``flagged_raters`` raters are flagged and guess at random),
    estimate the angle with Gaussian noise, and read each item's option right 95% of the time."""
    rng = random.Random(seed)
    study = simulated.study
    batch = AnnotationBatch.objects.create(
        study=study,
        size=n_transcripts,
        overlap=overlap,
        seed=seed,
        gold=n_gold,
        extraction_audit=extraction_audit,
        sampling_spec={"strata": [], "drawn": n_transcripts},
    )
    sampled = rng.sample(simulated.trial_ids, n_transcripts + n_gold)
    regular, gold = sampled[:n_transcripts], sampled[n_transcripts:]
    facts: dict[int, tuple[str, float | None]] = {
        pk: (category, angle)
        for pk, category, angle in Trial.objects.filter(pk__in=sampled).values_list("pk", "category", "angle")
    }
    orders: dict[tuple[int, int], tuple[list[int], int | None]] = {}  # (trial, item) -> order, option
    if extraction_audit:
        for trial_id, item, order, option in ItemResponse.objects.filter(trial_id__in=regular).values_list(
            "trial_id", "item", "presented_order", "extracted_option"
        ):
            orders[(trial_id, item)] = (order, option)
    tasks = AnnotationTask.objects.bulk_create(
        [
            AnnotationTask(
                batch=batch,
                trial_id=pk,
                key=f"b{batch.pk}-t{pk}",
                is_gold=pk in gold,
                gold_category=facts[pk][0] if pk in gold else "",
            )
            for pk in sampled
        ],
        batch_size=BATCH_SIZE,
    )
    raters = Rater.objects.bulk_create(
        [
            Rater(
                batch=batch,
                participant_id=f"p{seed}-{i}",
                email=f"rater{i}@example.org",
                flagged=i < flagged_raters,
                consented_at=timezone.now(),
            )
            for i in range(n_raters)
        ]
    )
    task_of = {task.trial_id: task for task in tasks}
    judgments = []
    annotation_id = first_annotation_id

    def judge(rater: Rater, trial_id: int) -> HumanJudgment:
        nonlocal annotation_id
        category, angle = facts[trial_id]
        assert angle is not None
        guessing = rater.flagged or rng.random() > label_accuracy
        label = rng.choice(svo.CATEGORIES) if guessing else category
        audit: dict[str, int | None] = {}
        if extraction_audit and trial_id in regular:
            for item in range(1, 7):
                order, option = orders[(trial_id, item)]
                if option is not None and rng.random() < 0.95:
                    audit[str(item)] = order.index(option) + 1
                else:
                    audit[str(item)] = rng.choice([None, rng.randint(1, 9)])
        annotation_id += 1
        return HumanJudgment(
            label_studio_annotation_id=annotation_id,
            task=task_of[trial_id],
            trial_id=trial_id,
            rater=rater,
            category=label,
            angle_estimate=max(-45.0, min(90.0, angle + rng.gauss(0, angle_noise))),
            confidence=rng.randint(1, 5),
            extraction_audit=audit,
            comment=UNSAFE_TEXT,
            lead_time=rng.uniform(20, 200),
            annotated_at=timezone.now(),
        )

    for trial_id in regular:
        for rater in rng.sample(raters, overlap):
            judgments.append(judge(rater, trial_id))
    for trial_id in gold:
        for rater in raters:
            judgments.append(judge(rater, trial_id))
    HumanJudgment.objects.bulk_create(judgments, batch_size=BATCH_SIZE)
    simulated.batches.append(batch)
    return batch
