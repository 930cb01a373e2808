"""Writes for people taking the SVO slider: links, admission with balanced induction, and scored submissions.

Scoring goes only through ``evaluation.svo`` (the models' scorer), and each response set stores the
definitions version it was scored with.
"""

from __future__ import annotations

import logging
import math
import random
import secrets
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from annotation import participant_selectors as selectors
from annotation.models import (
    INDUCE_CHOICES,
    INDUCE_NONE,
    INDUCE_RANDOM,
    ITEM_SET_CHOICES,
    Participant,
    SvoItemAnswer,
    SvoLink,
    SvoResponseSet,
)
from evaluation import svo
from evaluation.models import Study
from hvae_site.api import DomainError

logger = logging.getLogger(__name__)

MAX_RETEST_HOURS = 24 * 365
MAX_QUOTA = 100_000
MAX_ITEM_SECONDS = 3600.0
FAST_MEDIAN_SECONDS = 2.0
"""A response set is flagged as implausibly fast when the median time per item is below this. Reading the two
payoffs of nine stops and moving a slider takes longer; the threshold sits below the few seconds per item
typical of attentive online samples, so it flags only answers given without reading."""

INDUCE_VALUES = tuple(choice for choice, _ in INDUCE_CHOICES)
ITEM_SETS = tuple(choice for choice, _ in ITEM_SET_CHOICES)


class AlreadySubmitted(DomainError):
    """This participant's answers for this wave are already stored; nothing is stored twice."""


class LinkFull(DomainError):
    """The link's quota of participants is reached."""


@transaction.atomic
def svo_link_create(
    *,
    study: Study,
    induce: str = INDUCE_NONE,
    items: str = "primary",
    retest_after_hours: int | None = None,
    quota: int | None = None,
    seed: int = 0,
    created_by: User | None = None,
) -> SvoLink:
    """A new participant link for the study (each call makes its own link with its own key)."""
    if induce not in INDUCE_VALUES:
        raise DomainError(
            f"induce must be one of {', '.join(INDUCE_VALUES)}, got {induce!r}.", field="induce"
        )
    if items not in ITEM_SETS:
        raise DomainError(f"items must be one of {', '.join(ITEM_SETS)}, got {items!r}.", field="items")
    if retest_after_hours is not None and not 0 <= retest_after_hours <= MAX_RETEST_HOURS:
        raise DomainError(
            f"The retest interval must be 0..{MAX_RETEST_HOURS} hours, got {retest_after_hours}.",
            field="retest_after_hours",
        )
    if quota is not None and not 1 <= quota <= MAX_QUOTA:
        raise DomainError(f"The quota must be 1..{MAX_QUOTA} participants, got {quota}.", field="quota")
    if not -(2**63) <= seed < 2**63:
        raise DomainError("The seed must fit in 64 bits.", field="seed")
    link = SvoLink.objects.create(
        study=study,
        induce=induce,
        items=items,
        retest_after_hours=retest_after_hours,
        quota=quota,
        seed=seed,
        created_by=created_by,
    )
    logger.info("svo link created link=%s study=%s induce=%s items=%s", link.pk, study.pk, induce, items)
    return link


def _least_filled(counts: Mapping[Any, int], rng: random.Random) -> Any:
    """The key with the smallest count; ties broken by ``rng`` over the keys in their given order."""
    fewest = min(counts.values())
    return rng.choice([key for key, count in counts.items() if count == fewest])


@transaction.atomic
def participant_join(
    *,
    link: SvoLink,
    participant_id: str,
    platform_study_id: str = "",
    platform_session_id: str = "",
) -> tuple[Participant, bool]:
    """Admit a consenting person (or find them again by their id on this link), recording the consent version.

    Under ``random`` induction the value goes to the arm with the fewest participants so far, ties broken by a
    random draw seeded with the link's seed and the admission number; the slider direction is balanced the
    same way. Admissions on one link are serialised by a row lock so concurrent joins keep the arms balanced.
    """
    locked = SvoLink.objects.select_for_update(of=("self",)).select_related("study").get(pk=link.pk)
    existing = Participant.objects.filter(link=locked, participant_id=participant_id).first()
    if existing is not None:
        return existing, False
    admitted = locked.participants.count()
    if locked.quota is not None and admitted >= locked.quota:
        raise LinkFull(f"This study is full: all {locked.quota} places are taken.")
    rng = random.Random(f"{locked.seed}:{admitted}")
    if locked.induce == INDUCE_RANDOM:
        value = str(_least_filled(selectors.participants_in_arms(link=locked), rng))
    elif locked.induce == INDUCE_NONE:
        value = ""
    else:
        value = locked.induce
    reversed_count = locked.participants.filter(reversed_slider=True).count()
    directions = {False: admitted - reversed_count, True: reversed_count}
    participant = Participant.objects.create(
        link=locked,
        participant_id=participant_id,
        platform_study_id=platform_study_id,
        platform_session_id=platform_session_id,
        assigned_value=value,
        reversed_slider=bool(_least_filled(directions, rng)),
        order_seed=secrets.randbits(62),
        consented_at=timezone.now(),
        consent_version=locked.study.consent_version,
    )
    logger.info(
        "participant joined participant=%s link=%s value=%s reversed=%s",
        participant.pk,
        locked.pk,
        value or "-",
        participant.reversed_slider,
    )
    return participant, True


@dataclass(frozen=True)
class Submission:
    """A participant's answers to one wave: item -> Murphy option 1-9, item -> seconds after the page opened of
    the slider's last change (from the browser; items without one are unknown), and the server-measured time
    from serving the page to the submission."""

    options: Mapping[int, int]
    changed_at: Mapping[int, float] = field(default_factory=dict)
    page_seconds: float | None = None


def _check(submission: Submission, items: tuple[svo.Item, ...]) -> None:
    expected = {item.number for item in items}
    if set(submission.options) != expected:
        missing = sorted(expected - set(submission.options))
        extra = sorted(set(submission.options) - expected)
        raise DomainError(
            f"Answers must cover exactly the items {sorted(expected)} (missing {missing}, extra {extra})."
        )
    for number, option in submission.options.items():
        if isinstance(option, bool) or not isinstance(option, int) or not 1 <= option <= svo.OPTIONS_PER_ITEM:
            raise DomainError(
                f"item {number}: the option must be 1..9, got {option!r}.", field=f"item_{number}"
            )
    for number, seconds in submission.changed_at.items():
        if number not in expected or not math.isfinite(seconds) or not 0 <= seconds <= MAX_ITEM_SECONDS:
            raise DomainError(
                f"item {number}: the time must be 0..{MAX_ITEM_SECONDS:.0f} seconds.", field=f"time_{number}"
            )


def item_seconds(changed_at: Mapping[int, float]) -> dict[int, float]:
    """Time per item: from the previous item's last change (the page opening for the first) to this item's last
    change, taking the items in the order of their last changes. The times add up to the time on the page."""
    seconds: dict[int, float] = {}
    previous = 0.0
    for at, number in sorted((at, number) for number, at in changed_at.items()):
        seconds[number] = at - previous
        previous = at
    return seconds


def _median_seconds(per_item: Mapping[int, float], n_items: int, page_seconds: float | None) -> float | None:
    """The median time per item from the browser's timestamps when at least half the items have one; else the
    server-measured page time spread evenly over the items; None when neither is known."""
    if per_item and 2 * len(per_item) >= n_items:
        return float(statistics.median(per_item.values()))
    if page_seconds is not None:
        return page_seconds / n_items
    return None


def _scores(choices: list[int], value: str) -> dict[str, Any]:
    primary = svo.score_primary(choices[: len(svo.PRIMARY_ITEMS)])
    secondary = (
        svo.score_secondary(choices[len(svo.PRIMARY_ITEMS) :]) if len(choices) == len(svo.ALL_ITEMS) else None
    )
    fields: dict[str, Any] = {
        "angle": primary.angle,
        "category": primary.category,
        "mean_self": primary.mean_self,
        "mean_other": primary.mean_other,
        "transitive": primary.transitive,
        "inequality_aversion": secondary.inequality_aversion if secondary else None,
        "value_rationality": None,
        "angular_deviation": None,
        "category_hit": None,
        "scores": {
            "value_rationality": {v: svo.value_rationality(v, choices) for v in svo.VALUES},
            "angular_deviation": {v: svo.angular_deviation(v, choices) for v in svo.VALUES},
            "secondary_distances": secondary.distances if secondary else None,
        },
    }
    if value:
        scored = svo.score_value(value, choices)
        fields.update(
            value_rationality=scored.value_rationality,
            angular_deviation=scored.angular_deviation,
            category_hit=scored.category_hit,
        )
    return fields


@transaction.atomic
def svo_responses_submit(*, participant: Participant, wave: int, submission: Submission) -> SvoResponseSet:
    """Score and store one wave of a participant's answers, once: a second submission of the same wave raises
    ``AlreadySubmitted`` and stores nothing (a database constraint backs the check under concurrency)."""
    locked = (
        Participant.objects.select_for_update(of=("self",))
        .select_related("link__study")
        .get(pk=participant.pk)
    )
    if wave not in (1, selectors.RETEST_WAVE):
        raise DomainError(f"wave must be 1 or 2, got {wave}.", field="wave")
    items = selectors.administered_items(link=locked.link)
    _check(submission, items)
    if SvoResponseSet.objects.filter(participant=locked, wave=wave).exists():
        raise AlreadySubmitted("Your answers were already recorded; they are not stored twice.")
    if wave == selectors.RETEST_WAVE:
        opens = selectors.retest_opens_at(participant=locked)
        if opens is None:
            raise DomainError("There is no retest for this participant.", field="wave")
        if timezone.now() < opens:
            raise DomainError(f"The retest opens at {opens:%Y-%m-%d %H:%M} UTC.", field="wave")
    choices = [submission.options[item.number] for item in items]
    per_item = item_seconds(submission.changed_at)
    median = _median_seconds(per_item, len(items), submission.page_seconds)
    try:
        with transaction.atomic():
            response = SvoResponseSet.objects.create(
                participant=locked,
                wave=wave,
                items=locked.link.items,
                definitions_version=svo.DEFINITIONS_VERSION,
                value=locked.assigned_value,
                straight_lined=len(set(choices)) == 1,
                too_fast=median is not None and median < FAST_MEDIAN_SECONDS,
                median_item_seconds=median,
                page_seconds=submission.page_seconds,
                **_scores(choices, locked.assigned_value),
            )
    except IntegrityError as exc:
        raise AlreadySubmitted("Your answers were already recorded; they are not stored twice.") from exc
    order = selectors.item_order(participant=locked, wave=wave)
    SvoItemAnswer.objects.bulk_create(
        [
            SvoItemAnswer(
                response_set=response,
                item=number,
                option=submission.options[number],
                position=position,
                reversed_slider=locked.reversed_slider,
                changed_at=submission.changed_at.get(number),
                seconds=per_item.get(number),
            )
            for position, number in enumerate(order, start=1)
        ]
    )
    logger.info(
        "svo responses stored participant=%s wave=%s angle=%.2f straight=%s fast=%s",
        locked.pk,
        wave,
        response.angle,
        response.straight_lined,
        response.too_fast,
    )
    return response
