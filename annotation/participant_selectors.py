"""Reads for people taking the SVO slider: signed links, what a participant is shown, and who may see what."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.db.models import QuerySet
from django.urls import reverse

from annotation.models import Participant, SvoItemAnswer, SvoLink, SvoResponseSet
from annotation.selectors import _with_code
from evaluation import access, svo
from evaluation.models import Study

LINK_SALT = "hvae.annotation.svo-link"
RETEST_SALT = "hvae.annotation.svo-retest"
RETEST_WAVE = 2


# --- What a user may see: scoped by the studies ``evaluation.access`` lets them see ---------------------------


def svo_links_visible_to(user: access.AnyUser) -> QuerySet[SvoLink]:
    return SvoLink.objects.filter(study__in=access.studies_visible_to(user).values("pk"))


def participants_visible_to(user: access.AnyUser) -> QuerySet[Participant]:
    return Participant.objects.filter(link__study__in=access.studies_visible_to(user).values("pk"))


def response_sets_visible_to(user: access.AnyUser) -> QuerySet[SvoResponseSet]:
    return SvoResponseSet.objects.filter(
        participant__link__study__in=access.studies_visible_to(user).values("pk")
    )


# --- Signed links -------------------------------------------------------------------------------------------


def _public(path: str) -> str:
    return f"{settings.HVAE_PUBLIC_URL.rstrip('/')}{path}"


def svo_link_token(*, link: SvoLink) -> str:
    """Signed with the service's secret key; names the link and its key, so rotating either revokes it."""
    return signing.dumps({"link": link.pk, "key": link.token}, salt=LINK_SALT, compress=True)


def svo_link_url(*, link: SvoLink) -> str:
    return _public(reverse("svo-join", kwargs={"token": svo_link_token(link=link)}))


def svo_link_from_token(*, token: str) -> SvoLink | None:
    try:
        data = signing.loads(token, salt=LINK_SALT)
    except signing.BadSignature:
        return None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("link"), int)
        or not isinstance(data.get("key"), str)
    ):
        return None
    return SvoLink.objects.select_related("study").filter(pk=data["link"], token=data["key"]).first()


def retest_token(*, participant: Participant) -> str:
    """The participant's own retest link: it names them and a key only they were given."""
    return signing.dumps(
        {"participant": participant.pk, "key": participant.retest_key}, salt=RETEST_SALT, compress=True
    )


def retest_url(*, participant: Participant) -> str:
    return _public(reverse("svo-retest", kwargs={"token": retest_token(participant=participant)}))


def participant_from_retest(*, token: str) -> Participant | None:
    try:
        data = signing.loads(token, salt=RETEST_SALT)
    except signing.BadSignature:
        return None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("participant"), int)
        or not isinstance(data.get("key"), str)
    ):
        return None
    return (
        Participant.objects.select_related("link__study")
        .filter(pk=data["participant"], retest_key=data["key"])
        .first()
    )


# --- What a participant is shown ----------------------------------------------------------------------------


def administered_items(*, link: SvoLink) -> tuple[svo.Item, ...]:
    return svo.ALL_ITEMS if link.items == "all" else svo.PRIMARY_ITEMS


def item_order(*, participant: Participant, wave: int) -> list[int]:
    """The items in the order this participant sees them in this wave: shuffled, the same on every reload."""
    numbers = [item.number for item in administered_items(link=participant.link)]
    random.Random(f"{participant.order_seed}:{wave}").shuffle(numbers)
    return numbers


@dataclass(frozen=True)
class Stop:
    """One of a slider's nine stops as displayed (left to right)."""

    option: int
    self_payoff: int
    other_payoff: int


@dataclass(frozen=True)
class SliderItem:
    number: int
    position: int
    stops: tuple[Stop, ...]
    reversed_slider: bool
    value: int  # the Murphy option the slider shows (5, the middle, until moved)

    @property
    def chosen(self) -> Stop:
        return next(stop for stop in self.stops if stop.option == self.value)


def slider_items(
    *, participant: Participant, wave: int, values: Mapping[int, int] | None = None
) -> list[SliderItem]:
    """The page's sliders in display order; stops left to right (option 9 first under version B)."""
    by_number = svo.ITEMS_BY_NUMBER
    sliders = []
    for position, number in enumerate(item_order(participant=participant, wave=wave), start=1):
        item = by_number[number]
        stops = tuple(Stop(option, *item.allocation(option)) for option in range(1, svo.OPTIONS_PER_ITEM + 1))
        if participant.reversed_slider:
            stops = tuple(reversed(stops))
        value = (values or {}).get(number, 5)
        sliders.append(SliderItem(number, position, stops, participant.reversed_slider, value))
    return sliders


def response_set(*, participant: Participant, wave: int) -> SvoResponseSet | None:
    return SvoResponseSet.objects.filter(participant=participant, wave=wave).first()


def retest_opens_at(*, participant: Participant) -> datetime | None:
    """When the participant's retest opens: the retest interval after their first wave (None: no retest)."""
    hours = participant.link.retest_after_hours
    if hours is None:
        return None
    first = response_set(participant=participant, wave=1)
    if first is None:
        return None
    return first.submitted_at + timedelta(hours=hours)


@dataclass(frozen=True)
class Completion:
    code: str
    url: str


def completion(*, study: Study) -> Completion:
    """The study's completion code and the crowd platform's return link carrying it."""
    return Completion(code=study.completion_code, url=_with_code(study.completion_url, study.completion_code))


def participants_in_arms(*, link: SvoLink) -> dict[str, int]:
    """Participants admitted so far per induced value (all four values, zeros included)."""
    counts: dict[str, int] = dict.fromkeys(svo.VALUES, 0)
    for value in link.participants.exclude(assigned_value="").values_list("assigned_value", flat=True):
        counts[value] += 1
    return counts


# --- Exports --------------------------------------------------------------------------------------------------

EXPORT_COLUMNS = (
    "study",
    "link",
    "induce",
    "participant",
    "participant_id",
    "assigned_value",
    "reversed_slider",
    "wave",
    "items",
    "definitions_version",
    "angle",
    "category",
    "transitive",
    "inequality_aversion",
    "value_rationality",
    "angular_deviation",
    "category_hit",
    "straight_lined",
    "too_fast",
    "median_item_seconds",
    "page_seconds",
    "submitted_at",
    "item",
    "option",
    "position",
    "stop_from_left",
    "changed_at",
    "seconds",
)


def response_export_rows(*, study: Study) -> list[dict[str, Any]]:
    """One row per item answer of the study's participants, with its response set's scores and flags."""
    answers = (
        SvoItemAnswer.objects.filter(response_set__participant__link__study=study)
        .select_related("response_set__participant__link")
        .order_by("response_set__participant_id", "response_set__wave", "position")
    )
    rows = []
    for answer in answers:
        response = answer.response_set
        participant = response.participant
        rows.append(
            {
                "study": study.pk,
                "link": participant.link_id,
                "induce": participant.link.induce,
                "participant": participant.pk,
                "participant_id": participant.participant_id,
                "assigned_value": participant.assigned_value,
                "reversed_slider": participant.reversed_slider,
                "wave": response.wave,
                "items": response.items,
                "definitions_version": response.definitions_version,
                "angle": response.angle,
                "category": response.category,
                "transitive": response.transitive,
                "inequality_aversion": response.inequality_aversion,
                "value_rationality": response.value_rationality,
                "angular_deviation": response.angular_deviation,
                "category_hit": response.category_hit,
                "straight_lined": response.straight_lined,
                "too_fast": response.too_fast,
                "median_item_seconds": response.median_item_seconds,
                "page_seconds": response.page_seconds,
                "submitted_at": response.submitted_at.isoformat(),
                "item": answer.item,
                "option": answer.option,
                "position": answer.position,
                "stop_from_left": answer.stop_from_left,
                "changed_at": answer.changed_at,
                "seconds": answer.seconds,
            }
        )
    return rows
