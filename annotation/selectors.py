"""Reads of the annotation app: invite links, and where a rater stands."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.core import signing
from django.db.models import Count, Q, QuerySet
from django.urls import reverse
from django.utils.crypto import salted_hmac

from annotation.labeling import UNCLEAR
from annotation.models import AnnotationBatch, AnnotationTask, HumanJudgment, Rater
from evaluation import access

INVITE_SALT = "hvae.annotation.invite"
COMPLETION_SALT = "hvae.annotation.completion"
COMPLETION_CODE_LENGTH = 10


# --- What a user may see: scoped by the studies ``evaluation.access`` lets them see ---------------------------


def batches_visible_to(user: access.AnyUser) -> QuerySet[AnnotationBatch]:
    return AnnotationBatch.objects.filter(study__in=access.studies_visible_to(user).values("pk"))


def tasks_visible_to(user: access.AnyUser) -> QuerySet[AnnotationTask]:
    return AnnotationTask.objects.filter(batch__study__in=access.studies_visible_to(user).values("pk"))


def raters_visible_to(user: access.AnyUser) -> QuerySet[Rater]:
    return Rater.objects.filter(batch__study__in=access.studies_visible_to(user).values("pk"))


def judgments_visible_to(user: access.AnyUser) -> QuerySet[HumanJudgment]:
    return HumanJudgment.objects.filter(task__batch__study__in=access.studies_visible_to(user).values("pk"))


def invite_token(*, batch: AnnotationBatch) -> str:
    """Signed with the service's secret key; it names the batch and the batch's invite key, so rotating the key
    revokes every link handed out. Expiry is the batch's ``invite_expires_at``."""
    return signing.dumps({"batch": batch.pk, "key": batch.invite_token}, salt=INVITE_SALT, compress=True)


def invite_url(*, batch: AnnotationBatch) -> str:
    path = reverse("rater-join", kwargs={"token": invite_token(batch=batch)})
    return f"{settings.HVAE_PUBLIC_URL.rstrip('/')}{path}"


def batch_from_invite(*, token: str) -> AnnotationBatch | None:
    """The batch a signed invite token opens, or None when the signature or batch is not valid."""
    try:
        data = signing.loads(token, salt=INVITE_SALT)
    except signing.BadSignature:
        return None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("batch"), int)
        or not isinstance(data.get("key"), str)
    ):
        return None
    return (
        AnnotationBatch.objects.select_related("study")
        .filter(pk=data["batch"], invite_token=data["key"])
        .first()
    )


def rater_of_participant(*, batch: AnnotationBatch, participant_id: str) -> Rater | None:
    """The rater who joined the batch under this crowd-platform id, if any."""
    return Rater.objects.filter(batch=batch, participant_id=participant_id.strip()).first()


def rater_done(*, rater: Rater) -> int:
    """Tasks the rater has judged (live, not skipped, one per task)."""
    return (
        HumanJudgment.objects.filter(rater=rater, deleted=False, was_cancelled=False)
        .values("task_id")
        .distinct()
        .count()
    )


@dataclass(frozen=True)
class GoldRecord:
    """A rater's live answers on gold items: correct, wrong, and ``unclear`` (a subset of the misses).

    ``unclear`` on a gold item counts as a miss. Gold items are chosen because their orientation is clear (by
    construction, or by a researcher's reading), so "unclear" there is a failure to recognise a clear case,
    which is what screening measures. Counted as neither hit nor miss it would let a rater answer "unclear" to
    everything and never reach the minimum of answered gold items, so never be screened; counted as a hit it
    would reward exactly that. The pressure it puts on raters to guess applies to every item alike, since raters
    cannot tell gold items from the others. The count of unclear answers is kept so a researcher can tell an
    unsure rater from a careless one."""

    correct: int
    wrong: int
    unclear: int

    @property
    def answered(self) -> int:
        return self.correct + self.wrong + self.unclear

    @property
    def accuracy(self) -> float:
        return self.correct / self.answered if self.answered else 1.0


def rater_gold_record(*, rater: Rater) -> GoldRecord:
    """The rater's answers on gold items (live judgments, skips left out)."""
    judged = HumanJudgment.objects.filter(
        rater=rater, deleted=False, was_cancelled=False, task__is_gold=True
    ).values_list("category", "task__gold_category")
    correct = wrong = unclear = 0
    for given, truth in judged:
        if given == UNCLEAR:
            unclear += 1
        elif given == truth:
            correct += 1
        else:
            wrong += 1
    return GoldRecord(correct=correct, wrong=wrong, unclear=unclear)


@dataclass(frozen=True)
class RaterProgress:
    done: int
    quota: int
    completion_code: str
    completion_url: str
    ran_out: bool = False  # no conversation is left for this rater before the quota was reached

    @property
    def finished(self) -> bool:
        return self.done >= self.quota or self.ran_out


def rater_tasks_left(*, rater: Rater) -> int:
    """Tasks this rater could still judge: not judged by them, and fewer live judgments than the overlap (in a
    batch that promises gold per rater, gold tasks never fill up: ``AnnotationBatch.gold_never_fills``)."""
    live = Q(judgments__deleted=False, judgments__was_cancelled=False)
    mine = HumanJudgment.objects.filter(rater=rater, deleted=False, was_cancelled=False).values("task_id")
    open_tasks = Q(n_live__lt=rater.batch.overlap)
    if rater.batch.gold_never_fills:
        open_tasks |= Q(is_gold=True)
    return (
        rater.batch.tasks.exclude(pk__in=mine)
        .annotate(n_live=Count("judgments", filter=live))
        .filter(open_tasks)
        .count()
    )


def rater_completion_code(*, rater: Rater) -> str:
    """The rater's own completion code: an HMAC (keyed by the service's secret key) of the study's code and the
    rater, so no rater can tell another's, and a researcher can check a code handed in on the crowd platform
    against the rater who earned it (it is in the raters API). Rotating the secret key changes every code."""
    message = f"{rater.batch.study.completion_code}:{rater.batch_id}:{rater.pk}"
    digest = salted_hmac(COMPLETION_SALT, message, algorithm="sha256").digest()
    return base64.b32encode(digest).decode()[:COMPLETION_CODE_LENGTH]


def rater_progress(*, rater: Rater) -> RaterProgress:
    """Where the rater stands. The completion code and return link are given once the quota is done, or once
    no conversation is left for a rater who judged at least one (the batch ran out before their quota).

    The code shown is the rater's own; the return link carries the study's code (``cc``), the one the crowd
    platform checks automatically when the rater is sent back."""
    quota = min(rater.batch.tasks_per_rater, rater.batch.tasks.count()) or rater.batch.tasks_per_rater
    done = rater_done(rater=rater)
    study = rater.batch.study
    ran_out = done < quota and rater_tasks_left(rater=rater) == 0
    if done < quota and not (ran_out and done > 0):
        return RaterProgress(done=done, quota=quota, completion_code="", completion_url="", ran_out=ran_out)
    return RaterProgress(
        done=done,
        quota=quota,
        completion_code=rater_completion_code(rater=rater),
        completion_url=_with_code(study.completion_url, study.completion_code),
        ran_out=ran_out,
    )


def _with_code(url: str, code: str) -> str:
    """The crowd platform's completion URL carrying the code as ``cc`` (Prolific's parameter), unless it has one."""
    if not url or not code:
        return url
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if not any(name == "cc" for name, _ in query):
        query.append(("cc", code))
    return urlunsplit(parts._replace(query=urlencode(query)))
