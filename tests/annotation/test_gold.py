"""Gold items independent of the metric, reference transcripts only as gold, the batch's screening rule, and the
seeded import order that gives every rater their gold items within the quota."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from hypothesis import given, settings
from hypothesis import strategies as st

from annotation import gold_labels, labeling, sampling, selectors, services
from annotation.models import AnnotationBatch, GoldLabel, HumanJudgment, Rater
from evaluation.models import Study, Trial
from hvae_site.api import DomainError
from tests.annotation.factories import make_study, make_trials
from tests.annotation.test_arms import RecordingPush
from tests.conftest import make_researcher


def test_constructed_gold_only_for_dispositions_fixed_by_construction() -> None:
    def gold(model: str, temperature: float | None = 1.0, reference: bool = True) -> str | None:
        return sampling.constructed_gold(
            model=model, value="competitive", temperature=temperature, is_reference=reference
        )

    assert gold("ref-faithful") == gold("ref-faithful", None) == "competitive"  # the induced value
    assert gold("ref-stubborn", 0.0) == "individualistic"  # whatever it is told, deterministic at 0
    assert gold("ref-stubborn", 1.0) is None  # samples options by regret above temperature 0
    for model in ("ref-prosocial-drift", "ref-position-biased", "ref-random", "ref-extractor", "gpt-4o"):
        assert gold(model) is None
    assert gold("ref-faithful", reference=False) is None  # a real model that happens to share the name


def test_gold_is_the_induced_value_even_where_the_metric_missed_and_never_the_automated_category(
    db: None,
) -> None:
    study = make_study()
    missed = make_trials(study, model="ref-faithful", value="altruistic", n=3, category="prosocial")
    make_trials(study, model="ref-random", value="prosocial", n=3)
    make_trials(study, model="gpt-test", value="prosocial", n=6, reference=False)

    batch, _ = services.annotation_batch_get_or_create(study=study, size=3, gold=3, seed=2)

    gold = batch.tasks.filter(is_gold=True)
    assert set(gold.values_list("trial_id", flat=True)) == {t.pk for t in missed}
    assert set(gold.values_list("gold_category", "gold_source")) == {("altruistic", "constructed")}
    labels = GoldLabel.objects.filter(trial__run__study=study)
    assert set(labels.values_list("trial_id", "source")) == {(t.pk, "constructed") for t in missed}


def test_reference_transcripts_enter_only_as_gold_unless_included_and_the_choice_is_recorded(
    db: None,
) -> None:
    study = make_study()
    reference = make_trials(study, model="ref-random", value="prosocial", n=6)
    make_trials(study, model="ref-faithful", value="prosocial", n=2)
    ordinary = make_trials(study, model="gpt-test", value="prosocial", n=4, reference=False)

    plain, _ = services.annotation_batch_get_or_create(study=study, size=4, gold=2)
    assert set(plain.tasks.filter(is_gold=False).values_list("trial_id", flat=True)) == {
        t.pk for t in ordinary
    }
    assert plain.include_reference is False
    assert plain.sampling_spec["include_reference"] is False
    with pytest.raises(DomainError, match="reference-agent transcripts enter only as gold") as error:
        services.annotation_batch_get_or_create(study=study, size=8)
    assert error.value.field == "size"

    demo, created = services.annotation_batch_get_or_create(
        study=study, size=8, gold=2, include_reference=True
    )
    assert created
    assert demo.include_reference is True
    assert demo.sampling_spec["include_reference"] is True
    drawn = set(demo.tasks.filter(is_gold=False).values_list("trial_id", flat=True))
    assert drawn & {t.pk for t in reference}
    # Another reference rule is another design: the first batch is not reused for it, and stays as it was.
    assert services.annotation_batch_get_or_create(study=study, size=4, gold=2)[0] == plain


def test_a_researchers_label_wins_and_makes_any_trial_a_gold_candidate(user: Any) -> None:
    study = make_study(owner=user)
    faithful = make_trials(study, model="ref-faithful", value="prosocial", n=1)[0]
    ordinary = make_trials(study, model="gpt-test", value="prosocial", n=5, reference=False)
    gold_labels.gold_constructed_refresh(study=study)
    gold_labels.gold_label_set(trial=faithful, category="individualistic", note="re-read", user=user)
    gold_labels.gold_label_set(trial=ordinary[0], category="competitive", user=user)
    gold_labels.gold_constructed_refresh(study=study)  # leaves the researcher's labels alone

    batch, _ = services.annotation_batch_get_or_create(study=study, size=4, gold=2)
    gold = dict(batch.tasks.filter(is_gold=True).values_list("trial_id", "gold_category"))
    assert gold == {faithful.pk: "individualistic", ordinary[0].pk: "competitive"}
    assert set(batch.tasks.filter(is_gold=True).values_list("gold_source", flat=True)) == {"researcher"}
    label = GoldLabel.objects.get(trial=faithful)
    assert (label.source, label.note, label.set_by) == ("researcher", "re-read", user)


def test_screening_rule_is_set_at_creation_recorded_and_validated(study: Study) -> None:
    batch, _ = services.annotation_batch_get_or_create(
        study=study,
        size=6,
        gold=4,
        tasks_per_rater=5,
        gold_per_rater=2,
        gold_min_answered=3,
        gold_fail_threshold=0.75,
    )
    assert (batch.gold_per_rater, batch.gold_min_answered, batch.gold_fail_threshold) == (2, 3, 0.75)
    assert batch.sampling_spec["screening"] == {
        "gold_per_rater": 2,
        "within_quota": 5,
        "min_gold_answered": 3,
        "fail_threshold": 0.75,
        "unclear_on_gold": "miss",
    }
    assert batch.sampling_spec["order"]["fewest_gold_in_any_quota_run"] >= 2

    bad: list[tuple[dict[str, Any], str, str]] = [
        (
            {"gold": 2, "gold_per_rater": 3, "tasks_per_rater": 2},
            "gold_per_rater",
            "cannot exceed a rater's quota",
        ),
        (
            {"gold": 1, "gold_per_rater": 2},
            "gold",
            r"Every rater is to meet 2 gold item\(s\) but the batch has only 1",
        ),
        ({"gold": 2, "gold_per_rater": 1, "tasks_per_rater": 2}, "gold", "need at least 5 gold items"),
        ({"gold": 3, "gold_per_rater": 3, "tasks_per_rater": 3}, "gold_per_rater", "leaves no room"),
        ({"gold_fail_threshold": 1.5}, "gold_fail_threshold", "between 0 and 1"),
        ({"gold_fail_threshold": float("nan")}, "gold_fail_threshold", "between 0 and 1"),
        ({"gold_min_answered": 0}, "gold_min_answered", "At least 1 gold item"),
    ]
    for options, field, message in bad:
        with pytest.raises(DomainError, match=message) as error:
            services.annotation_batch_get_or_create(study=study, size=6, seed=9, **options)
        assert error.value.field == field
    assert AnnotationBatch.objects.count() == 1


def gold_judgment(batch: AnnotationBatch, rater: Rater, number: int, category: str) -> None:
    task = batch.tasks.filter(is_gold=True).order_by("position")[number]
    HumanJudgment.objects.create(
        label_studio_annotation_id=1000 * rater.pk + number,
        task=task,
        trial=task.trial,
        rater=rater,
        category=category,
    )
    services.rater_refresh_flag(rater=rater)
    rater.refresh_from_db()


def test_flagging_follows_the_batchs_rule_and_unclear_on_gold_is_a_miss(study: Study) -> None:
    batch, _ = services.annotation_batch_get_or_create(
        study=study, size=4, gold=4, gold_min_answered=3, gold_fail_threshold=0.6
    )
    truth = list(
        batch.tasks.filter(is_gold=True).order_by("position").values_list("gold_category", flat=True)
    )
    wrong = {"prosocial": "competitive", "individualistic": "altruistic"}

    unsure = Rater.objects.create(batch=batch, participant_id="unsure", email="u@raters.invalid")
    gold_judgment(batch, unsure, 0, labeling.UNCLEAR)
    gold_judgment(batch, unsure, 1, labeling.UNCLEAR)
    assert not unsure.flagged  # 2 answered: below the batch's minimum of 3
    gold_judgment(batch, unsure, 2, truth[2])
    assert unsure.flagged  # 1 of 3: the unclear answers are misses
    assert selectors.rater_gold_record(rater=unsure) == selectors.GoldRecord(correct=1, wrong=0, unclear=2)
    record = selectors.rater_gold_record(rater=unsure)
    assert (record.correct, record.answered) == (1, 3)  # unclear answers are misses

    careful = Rater.objects.create(batch=batch, participant_id="careful", email="c@raters.invalid")
    for number in range(3):
        gold_judgment(batch, careful, number, truth[number])
    gold_judgment(batch, careful, 3, wrong[truth[3]])
    assert not careful.flagged  # 3 of 4 = 0.75, above 0.6

    sloppy = Rater.objects.create(batch=batch, participant_id="sloppy", email="s@raters.invalid")
    gold_judgment(batch, sloppy, 0, truth[0])
    gold_judgment(batch, sloppy, 1, wrong[truth[1]])
    gold_judgment(batch, sloppy, 2, wrong[truth[2]])
    assert sloppy.flagged  # 1 of 3
    assert selectors.rater_gold_record(rater=sloppy) == selectors.GoldRecord(correct=1, wrong=2, unclear=0)


def test_gold_tasks_never_fill_up_so_a_rater_can_always_take_them(batch: AnnotationBatch) -> None:
    batch.gold_per_rater = 1  # the promise that makes gold tasks never fill up
    batch.save(update_fields=["gold_per_rater"])
    me = Rater.objects.create(batch=batch, participant_id="me", email="me@raters.invalid")
    others = [
        Rater.objects.create(batch=batch, participant_id=f"o{n}", email=f"o{n}@r.invalid") for n in range(3)
    ]
    for number, (task, rater) in enumerate(itertools.product(batch.tasks.all(), others)):
        HumanJudgment.objects.create(
            label_studio_annotation_id=number + 1, task=task, trial=task.trial, rater=rater
        )
    assert selectors.rater_tasks_left(rater=me) == batch.tasks.filter(is_gold=True).count() == 2
    # without that promise gold tasks fill up like the others (Label Studio keeps the project-wide overlap)
    batch.gold_per_rater = 0
    batch.save(update_fields=["gold_per_rater"])
    assert selectors.rater_tasks_left(rater=me) == 0


# --- the import order ----------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    quota=st.integers(min_value=1, max_value=30),
    data=st.data(),
)
def test_every_run_of_a_quota_holds_the_gold_per_rater_with_the_fewest_gold_that_can(
    quota: int, data: st.DataObject
) -> None:
    per_rater = data.draw(st.integers(min_value=1, max_value=quota))
    items = data.draw(st.integers(min_value=0, max_value=120))
    needed = sampling.gold_needed(items=items, quota=quota, per_rater=per_rater)
    if needed < 0:
        assert per_rater == quota
        assert items > 0
        return
    extra = data.draw(st.integers(min_value=0, max_value=6))
    seed = data.draw(st.integers(min_value=0, max_value=10**6))
    ordinary, gold = list(range(items)), list(range(1000, 1000 + needed + extra))
    order = sampling.interleave(ordinary, gold, quota=quota, per_rater=per_rater, seed=seed)

    assert sorted(order) == ordinary + gold
    assert sampling.gold_in_every_run(order, set(gold), quota=quota) >= per_rater
    if needed > per_rater:
        with pytest.raises(sampling.SamplingError, match=f"need at least {needed} gold items"):
            sampling.interleave(ordinary, gold[: needed - 1], quota=quota, per_rater=per_rater, seed=seed)


@pytest.mark.parametrize(
    ("items", "quota", "per_rater"), [(5, 3, 1), (7, 4, 2), (6, 5, 1), (8, 4, 1), (4, 3, 2)]
)
def test_fewer_gold_than_needed_leaves_a_run_without_enough_gold_whatever_the_order(
    items: int, quota: int, per_rater: int
) -> None:
    """``gold_needed`` is the least: every placement of one gold item fewer has a short run (checked whole)."""
    needed = sampling.gold_needed(items=items, quota=quota, per_rater=per_rater)
    length = items + needed - 1
    for places in itertools.combinations(range(length), needed - 1):
        order = [1 if i in places else 0 for i in range(length)]
        assert sampling.gold_in_every_run(order, {1}, quota=quota) < per_rater


def test_the_order_is_seeded_and_not_in_blocks_of_one_stratum() -> None:
    ordinary = list(range(40))  # imagine ten strata of four, numbered in blocks
    first = sampling.interleave(ordinary, [100, 101, 102], quota=20, per_rater=0, seed=5)
    assert first == sampling.interleave(ordinary, [100, 101, 102], quota=20, per_rater=0, seed=5)
    assert first != sampling.interleave(ordinary, [100, 101, 102], quota=20, per_rater=0, seed=6)
    blocks = [task // 4 for task in first if task < 100]
    assert blocks != sorted(blocks)
    assert max(len(list(run)) for _, run in itertools.groupby(blocks)) < 4


def test_push_imports_in_the_batchs_order_and_gives_gold_tasks_room_for_every_rater(study: Study) -> None:
    client = RecordingPush()
    services.annotation_batch_push(
        study=study,
        size=6,
        gold=4,
        seed=3,
        tasks_per_rater=4,
        gold_per_rater=1,
        client=client,  # type: ignore[arg-type]
    )
    batch = AnnotationBatch.objects.get()
    [payload] = client.payloads
    assert [entry["data"][labeling.KEY_FIELD] for entry in payload] == list(
        batch.tasks.order_by("position").values_list("key", flat=True)
    )
    assert list(batch.tasks.order_by("position").values_list("position", flat=True)) == list(range(10))
    [overlaps] = client.overlaps
    assert sorted(overlaps.values()) == [batch.overlap] * 6 + [services.GOLD_TASK_OVERLAP] * 4
    assert client.project_options[-1]["maximum_annotations"] == 1


def test_a_batch_made_before_tasks_had_positions_is_pushed_as_it_was(study: Study) -> None:
    batch, _ = services.annotation_batch_get_or_create(study=study, size=4, gold=2, overlap=2)
    batch.tasks.update(position=None)  # what the migration leaves on earlier batches
    client = RecordingPush()
    services.annotation_batch_push(study=study, size=4, gold=2, overlap=2, client=client)  # type: ignore[arg-type]
    assert client.project_options[-1]["maximum_annotations"] == 2
    assert client.overlaps == []


# --- researchers' gold: the CSV command and the admin ----------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gold.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_import_gold_takes_a_valid_file_whole(study: Study, tmp_path: Path, capsys: Any) -> None:
    trials = list(Trial.objects.filter(run__study=study, run__model="gpt-test").order_by("pk")[:2])
    path = write(
        tmp_path, f"trial_id,category,note\n{trials[0].pk},competitive,clear\n{trials[1].pk},altruistic,\n"
    )

    call_command("import_gold", "--study", study.name, str(path))

    assert "2 gold label(s) imported" in capsys.readouterr().out
    labels = GoldLabel.objects.filter(trial__in=trials).order_by("trial_id")
    assert list(labels.values_list("category", "source", "note")) == [
        ("competitive", "researcher", "clear"),
        ("altruistic", "researcher", ""),
    ]


def test_import_gold_with_bad_lines_saves_nothing_and_names_every_line(study: Study, tmp_path: Path) -> None:
    other = make_trials(make_study(), model="gpt-test", n=1, reference=False)[0]
    mine = Trial.objects.filter(run__study=study).order_by("pk").first()
    assert mine is not None
    text = (
        "trial_id,category\n"
        f"{mine.pk},prosocial\n"
        f"{other.pk},prosocial\n"
        "abc,prosocial\n"
        f"{mine.pk},selfish\n"
        "999999,altruistic\n"
        f"{mine.pk},prosocial,extra,columns\n"
    )
    before = list(GoldLabel.objects.values_list("pk", "category", "source"))

    with pytest.raises(CommandError) as error:
        call_command("import_gold", "--study", study.name, str(write(tmp_path, text)))

    assert error.value.returncode == 2
    message = str(error.value)
    assert "nothing imported" in message
    assert f"line 3: trial {other.pk} does not belong to study" in message
    assert "line 4: trial_id must be a whole number, got 'abc'" in message
    assert f"line 5: trial {mine.pk} already given on line 2" in message
    assert "line 5: category must be one of" in message
    assert "line 6: no trial 999999" in message
    assert "line 7: expected 2 column(s), got 4" in message
    assert list(GoldLabel.objects.values_list("pk", "category", "source")) == before

    for bad_file, expected in (
        ("id,label\n1,prosocial\n", "line 1: the header"),
        ("trial_id,category\n", "no gold"),
    ):
        with pytest.raises(CommandError, match=expected) as error:
            call_command("import_gold", "--study", study.name, str(write(tmp_path, bad_file)))
        assert error.value.returncode == 2
    with pytest.raises(CommandError, match="no study named") as error:
        call_command("import_gold", "--study", "nope", str(path_missing := tmp_path / "none.csv"))
    assert error.value.returncode == 2
    with pytest.raises(CommandError, match="cannot read") as error:
        call_command("import_gold", "--study", study.name, str(path_missing))
    assert error.value.returncode == 2


def test_admin_sets_a_researchers_gold_on_their_own_studies_only_and_marks_the_source(
    client: Client, study: Study
) -> None:
    user = make_researcher("gold-editor", is_staff=True)
    Study.objects.filter(pk=study.pk).update(owner=user)
    services.annotation_batch_get_or_create(study=study, size=2, gold=1)  # constructed labels exist now
    stranger_study = make_study(owner=make_researcher("stranger"))
    foreign = make_trials(stranger_study, model="gpt-test", n=1, reference=False)[0]
    ordinary = Trial.objects.filter(run__study=study, run__model="gpt-test").order_by("pk").first()
    assert ordinary is not None
    client.force_login(user)

    listing = client.get("/admin/annotation/goldlabel/").content.decode()
    assert "constructed" in listing
    added = client.post(
        "/admin/annotation/goldlabel/add/",
        {"trial": ordinary.pk, "category": "competitive", "note": "read it"},
    )
    assert added.status_code == 302
    label = GoldLabel.objects.get(trial=ordinary)
    assert (label.category, label.source, label.set_by) == ("competitive", "researcher", user)
    refused = client.post("/admin/annotation/goldlabel/add/", {"trial": foreign.pk, "category": "prosocial"})
    assert refused.status_code == 200  # the form does not offer another researcher's trial
    assert not GoldLabel.objects.filter(trial=foreign).exists()

    batch, _ = services.annotation_batch_get_or_create(study=study, size=2, gold=2, seed=4)
    tasks_page = client.get(f"/admin/annotation/annotationtask/?batch__id__exact={batch.pk}").content.decode()
    assert "(constructed)" in tasks_page or "(researcher)" in tasks_page
