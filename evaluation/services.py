"""Writes of the evaluation app: studies, endpoints, prompt templates, runs, trial claims and results."""

from __future__ import annotations

import functools
import importlib.metadata
import logging
import math
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal
from typing import Any, Final, Literal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import Group, Permission, User
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from evaluation import access, prompts, rescoring, svo
from evaluation.llm import CallRecord, EndpointConfig
from evaluation.models import (
    EvaluationRun,
    ItemResponse,
    LLMCall,
    ModelEndpoint,
    PromptTemplate,
    Study,
    Trial,
)
from evaluation.reference_llm.agents import PROFILES as REFERENCE_PROFILES
from hvae_site import outbound
from hvae_site.api import DomainError

logger = logging.getLogger(__name__)


def study_get_or_create(*, name: str, description: str = "", owner: User | None = None) -> Study:
    """The study of this name; a new one belongs to ``owner`` (None: visible to superusers only)."""
    name = name.strip()
    if not name:
        raise DomainError("A study needs a name.", field="study")
    study, created = Study.objects.get_or_create(
        name=name, defaults={"description": description, "owner": owner}
    )
    if created:
        logger.info("study created study=%s owner=%s", study.pk, owner.pk if owner else None)
    return study


# What a researcher may do in the admin; which objects they see there is decided by ``evaluation.access``.
RESEARCHER_PERMISSIONS = {
    "evaluation": {
        "study": ("view", "add", "change", "delete"),
        "studymember": ("view", "add", "change", "delete"),
        "modelendpoint": ("view", "add", "change", "delete"),
        "evaluationrun": ("view", "change"),  # change: cancel and resume runs (records stay read-only)
        "trial": ("view",),
        "itemresponse": ("view",),
        "llmcall": ("view",),
        "prompttemplate": ("view",),
    },
    "annotation": {
        "annotationbatch": ("view", "change"),
        "annotationtask": ("view",),
        "goldlabel": ("view", "add", "change", "delete"),  # gold labels set by researchers
        "rater": ("view", "change"),
        "humanjudgment": ("view",),
        "svolink": ("view", "add"),  # made through the participant-link service, then read-only
        "participant": ("view",),
        "svoresponseset": ("view",),
        "svoitemanswer": ("view",),
    },
}


def researchers_group() -> Group:
    """The ``researchers`` group (made by a migration; made again after a flush) with its admin permissions."""
    group, _ = Group.objects.get_or_create(name=access.RESEARCHERS_GROUP)
    codenames = [
        (app, f"{action}_{model}")
        for app, models in RESEARCHER_PERMISSIONS.items()
        for model, actions in models.items()
        for action in actions
    ]
    wanted = Q(pk__in=[])
    for app, codename in codenames:
        wanted |= Q(content_type__app_label=app, codename=codename)
    group.permissions.add(*Permission.objects.filter(wanted))
    return group


@transaction.atomic
def researcher_create(*, username: str, email: str, password: str | None) -> tuple[AbstractBaseUser, bool]:
    """Make ``username`` a researcher (a new account, or an existing one with the same e-mail): staff, so they
    can use the admin, and in the ``researchers`` group. Returns the user and whether the account is new."""
    users = get_user_model()
    user = users.objects.filter(username=username).first()
    created = user is None
    if user is None:
        user = users.objects.create_user(username=username, email=email, password=password)
    elif getattr(user, "email", "") not in ("", email):
        raise DomainError(f"User {username!r} exists with another e-mail address; nothing was changed.")
    else:
        user.email = email  # type: ignore[attr-defined]
        if password is not None:
            user.set_password(password)
    if password is None and created:
        user.set_unusable_password()
    user.is_staff = True  # type: ignore[attr-defined]
    user.save()
    user.groups.add(researchers_group())  # type: ignore[attr-defined]
    logger.info("researcher %s user=%s", "created" if created else "updated", user.pk)
    return user, created


def study_find(*, name_or_id: str) -> Study | None:
    study = Study.objects.filter(name=name_or_id).first()
    if study is None and name_or_id.isdigit():
        study = Study.objects.filter(pk=int(name_or_id)).first()
    return study


def endpoint_key_env_check(api_key_env: str) -> None:
    """Refuse a key variable that may not be read or is not set; one message for both, naming nothing."""
    if not api_key_env:
        return
    try:
        outbound.key_from_env(api_key_env)
    except outbound.KeyEnvRefused as exc:
        raise DomainError(outbound.KEY_ENV_REFUSED, field="api_key_env") from exc


def _free_endpoint_name(wanted: str) -> str:
    """``wanted`` (cut to the column's 200 characters), or it with a number when another endpoint has it."""
    base = wanted[:200]
    name, number = base, 1
    while ModelEndpoint.objects.filter(name=name).exists():
        number += 1
        suffix = f" ({number})"
        name = base[: 200 - len(suffix)] + suffix
    return name


def endpoint_get_or_create(
    *,
    base_url: str,
    api_key_env: str = "",
    name: str = "",
    max_concurrency: int | None = None,
    owner: User | None = None,
) -> ModelEndpoint:
    base_url = base_url.rstrip("/")
    endpoint_key_env_check(api_key_env)
    endpoint = ModelEndpoint.objects.filter(base_url=base_url, api_key_env=api_key_env).first()
    if endpoint is None:
        endpoint = ModelEndpoint.objects.create(
            name=name or _free_endpoint_name(base_url),
            base_url=base_url,
            api_key_env=api_key_env,
            max_concurrency=max_concurrency or 8,
            owner=owner,
        )
    elif max_concurrency and endpoint.max_concurrency != max_concurrency:
        endpoint.max_concurrency = max_concurrency
        endpoint.save(update_fields=["max_concurrency"])
    return endpoint


def endpoint_create(**settings_: Any) -> ModelEndpoint:
    """Save an endpoint (validated by the API layer). Only the name of the key's variable is ever stored."""
    settings_["base_url"] = str(settings_["base_url"]).rstrip("/")
    endpoint_key_env_check(str(settings_.get("api_key_env") or ""))
    endpoint = ModelEndpoint.objects.create(**settings_)
    logger.info("endpoint saved endpoint=%s url=%s", endpoint.pk, endpoint.base_url)
    return endpoint


def endpoint_note_models(*, endpoint: ModelEndpoint, listed: Sequence[str]) -> None:
    """Mark an endpoint that serves the reference agents, so pages and reports label its results as theirs."""
    serves_reference = bool(listed) and set(REFERENCE_PROFILES) <= set(listed)
    if serves_reference and not endpoint.is_reference:
        endpoint.is_reference = True
        endpoint.save(update_fields=["is_reference"])


def endpoint_config(endpoint: ModelEndpoint) -> EndpointConfig:
    # Rows saved before inputs were bounded (or edited by hand) may hold 0 or a non-positive timeout: a run
    # with no request slot would stay "running" forever, so such values fall back to the smallest usable one.
    timeout = endpoint.timeout_seconds
    return EndpointConfig(
        base_url=endpoint.base_url,
        api_key_env=endpoint.api_key_env,
        max_concurrency=max(1, endpoint.max_concurrency),
        requests_per_minute=endpoint.requests_per_minute or None,
        timeout_seconds=timeout if math.isfinite(timeout) and timeout > 0 else 60.0,
        max_attempts=endpoint.max_attempts,
        max_retry_seconds=endpoint.max_retry_seconds,
    )


def prompt_templates_ensure() -> dict[str, PromptTemplate]:
    """The current version of every protocol template, stored (as version 1, or a new version if the text in
    ``prompts.TEMPLATES`` changed)."""
    current: dict[str, PromptTemplate] = {}
    for name, text in prompts.TEMPLATES.items():
        digest = PromptTemplate.hash_text(text)
        template = PromptTemplate.objects.filter(name=name, content_hash=digest).first()
        if template is None:
            latest = PromptTemplate.objects.filter(name=name).order_by("-version").first()
            try:
                with transaction.atomic():
                    template = PromptTemplate.objects.create(
                        name=name, version=(latest.version + 1) if latest else 1, text=text
                    )
            except IntegrityError:
                template = PromptTemplate.objects.get(name=name, content_hash=digest)
        current[name] = template
    return current


def run_templates(run: EvaluationRun) -> dict[str, str]:
    """The exact template texts a run used, by name."""
    texts = dict(prompts.TEMPLATES)
    for name, ref in run.prompt_versions.items():
        template = PromptTemplate.objects.filter(name=name, version=ref["version"]).first()
        if template is not None:
            texts[name] = template.text
    return texts


TemperatureChoice = float | None | Literal["default"]
DEFAULT: Final = "default"
"""A design's temperature before the service resolves it: the variant's default (``default_temperature``)."""


def default_temperature(variant: str) -> float | None:
    """1.0 for our variants: repeated trials at temperature 0 would measure only determinism. None for
    ``paper``: no temperature is sent, so the provider samples at its default, as the paper did."""
    return None if variant == "paper" else 1.0


@dataclass(frozen=True)
class RunDesign:
    """Everything that defines a run; two runs with equal designs are the same experiment.

    ``temperature`` None sends no temperature (the provider's default); ``DEFAULT`` lets the service choose by
    variant (``default_temperature``).
    """

    model: str
    value: str
    strategy: str = "plain"
    n_trials: int = 10
    prompt_variant: str = "dialogue"
    item_set: str = "primary"
    option_labels: str = "letters"
    option_order: str = "fixed"
    temperature: TemperatureChoice = DEFAULT
    top_p: float | None = None
    max_tokens: int = 400
    seed: int = 0
    extractor_model: str = ""
    on_unreadable: str = "reask"

    def resolved(self) -> RunDesign:
        """The design with its defaults chosen (the temperature by variant)."""
        if self.temperature == DEFAULT:
            return replace(self, temperature=default_temperature(self.prompt_variant))
        return self

    def validate(self) -> None:
        if not self.model.strip():
            raise DomainError("A model name is required.", field="model")
        if self.value not in svo.VALUES:
            raise DomainError(
                f"Unknown value {self.value!r}; expected one of {', '.join(svo.VALUES)}.", field="value"
            )
        choices: dict[str, Iterable[str]] = {
            "strategy": EvaluationRun.Strategy.values,
            "prompt_variant": prompts.VARIANTS,
            "item_set": EvaluationRun.ItemSet.values,
            "option_labels": EvaluationRun.OptionLabels.values,
            "option_order": EvaluationRun.OptionOrder.values,
            "on_unreadable": EvaluationRun.OnUnreadable.values,
        }
        for name, allowed in choices.items():
            allowed = list(allowed)
            if getattr(self, name) not in allowed:
                raise DomainError(
                    f"Unknown {name} {getattr(self, name)!r}; expected one of {', '.join(allowed)}.",
                    field=name,
                )
        if self.prompt_variant == "paper":
            if self.item_set != EvaluationRun.ItemSet.PRIMARY:
                raise DomainError(
                    "The paper variant presents the six primary items only (item set 'primary').",
                    field="item_set",
                )
            if self.option_labels != EvaluationRun.OptionLabels.LETTERS:
                raise DomainError(
                    "The paper variant labels options A to I (option labels 'letters').",
                    field="option_labels",
                )
        if self.n_trials <= 0:
            raise DomainError("The number of trials must be at least 1.", field="n_trials")
        temperature = self.temperature
        if temperature != DEFAULT and temperature is not None and not 0.0 <= temperature <= 2.0:
            raise DomainError("Temperature must be between 0 and 2.", field="temperature")
        if self.top_p is not None and not 0.0 < self.top_p <= 1.0:
            raise DomainError("top_p must be in (0, 1].", field="top_p")
        if self.max_tokens <= 0:
            raise DomainError("max_tokens must be positive.", field="max_tokens")


def _design_filter(design: RunDesign) -> Q:
    fields: dict[str, Any] = dict(design.__dict__)
    for name in ("top_p", "temperature"):
        if fields[name] is None:
            del fields[name]
            fields[f"{name}__isnull"] = True
    return Q(**fields)


RESULT_PACKAGES: Final = ("openai", "numpy", "scipy", "Django")
"""The installed packages whose versions can change a result: the client, the numerics, the framework."""


@functools.cache
def service_version() -> str:
    """The git commit the service runs from; else ``HVAE_SERVICE_VERSION`` (e.g. set in an image); else
    "unknown"."""
    git = shutil.which("git")
    if git is None:
        return os.environ.get("HVAE_SERVICE_VERSION", "") or "unknown"
    try:
        commit = subprocess.run(  # noqa: S603 - a fixed command, no outside input
            [git, "rev-parse", "HEAD"],
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return commit or os.environ.get("HVAE_SERVICE_VERSION", "") or "unknown"


def run_provenance(*, definitions_version: str) -> dict[str, Any]:
    """What a re-analysis needs to know about the software that produced a run."""
    packages: dict[str, str] = {}
    for name in RESULT_PACKAGES:
        try:
            packages[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            packages[name] = "not installed"
    return {"service_version": service_version(), "packages": packages, "definitions": definitions_version}


@transaction.atomic
def evaluation_run_create(
    *,
    study: Study,
    endpoint: ModelEndpoint,
    design: RunDesign,
    extractor_endpoint: ModelEndpoint | None = None,
    reuse_existing: bool = True,
) -> tuple[EvaluationRun, bool]:
    """Create a run with all its trials pending, or return the existing run of the same design in the study.

    Returns ``(run, created)``. Reusing makes re-running a command resume the run instead of duplicating it.
    """
    design.validate()
    design = design.resolved()
    if reuse_existing:
        existing = (
            EvaluationRun.objects.filter(study=study, endpoint=endpoint)
            .filter(_design_filter(design))
            .exclude(status=EvaluationRun.Status.FAILED)
            .order_by("created_at")
            .first()
        )
        if existing is not None:
            return existing, False
    run_size_check(study=study, n_trials=design.n_trials)
    templates = prompt_templates_ensure()
    used = prompts.templates_used(
        design.prompt_variant,
        design.strategy,
        fallback_extractor=bool(design.extractor_model),
        reask=design.on_unreadable == EvaluationRun.OnUnreadable.REASK,
    )
    run = EvaluationRun(
        study=study,
        endpoint=endpoint,
        extractor_endpoint=(extractor_endpoint or endpoint) if design.extractor_model else None,
        prompt_versions={
            name: {"version": templates[name].version, "hash": templates[name].content_hash} for name in used
        },
        **design.__dict__,
    )
    run.provenance = run_provenance(definitions_version=run.definitions_version)
    run.save()
    Trial.objects.bulk_create(
        [Trial(run=run, index=i, seed=trial_seed(design.seed, i)) for i in range(design.n_trials)]
    )
    return run, True


def run_size_check(*, study: Study, n_trials: int) -> None:
    """Refuse a run above ``HVAE_MAX_TRIALS_PER_RUN`` trials, or one that takes the study's trials (all its
    runs) past ``HVAE_MAX_TRIALS_PER_STUDY``."""
    per_run = int(settings.HVAE_MAX_TRIALS_PER_RUN)
    if n_trials > per_run:
        raise DomainError(
            f"At most {per_run} trials per run (HVAE_MAX_TRIALS_PER_RUN); split the work into several runs.",
            field="n_trials",
        )
    per_study = int(settings.HVAE_MAX_TRIALS_PER_STUDY)
    existing = Trial.objects.filter(run__study=study).count()
    if existing + n_trials > per_study:
        raise DomainError(
            f"The study has {existing} trials; this run would take it past its quota of {per_study} "
            "(HVAE_MAX_TRIALS_PER_STUDY).",
            field="n_trials",
        )


def trial_seed(run_seed: int, index: int) -> int:
    """A per-trial seed derived from the run's: reproducible, distinct per trial, within 31 bits."""
    return (run_seed * 1_000_003 + index * 7919 + 12345) % (2**31 - 1)


def evaluation_run_cancel(*, run: EvaluationRun) -> EvaluationRun:
    if run.is_finished:
        raise DomainError(f"Run {run.pk} is already {run.status}.")
    EvaluationRun.objects.filter(pk=run.pk).update(
        status=EvaluationRun.Status.CANCELLED, finished_at=timezone.now()
    )
    Trial.objects.filter(run=run, status=Trial.Status.RUNNING).update(
        status=Trial.Status.PENDING, claim_token="", claimed_at=None
    )
    run.refresh_from_db()
    logger.info("run cancelled run=%s", run.pk)
    return run


def evaluation_run_mark_started(*, run_ids: Sequence[int]) -> None:
    now = timezone.now()
    EvaluationRun.objects.filter(pk__in=run_ids, started_at__isnull=True).update(started_at=now)
    EvaluationRun.objects.filter(
        pk__in=run_ids, status__in=[EvaluationRun.Status.PENDING, EvaluationRun.Status.CANCELLED]
    ).update(status=EvaluationRun.Status.RUNNING, finished_at=None)


def trials_release_stale(*, run_ids: Sequence[int], older_than_seconds: float) -> int:
    """Give back trials whose worker stopped heart-beating (crash or kill): they restart from the beginning."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    released = Trial.objects.filter(
        run_id__in=run_ids, status=Trial.Status.RUNNING, claimed_at__lt=cutoff
    ).update(status=Trial.Status.PENDING, claim_token="", claimed_at=None)
    if released:
        logger.info("released stale trials count=%d runs=%s", released, list(run_ids))
    return released


@transaction.atomic
def trial_claim(*, run_ids: Sequence[int], token: str) -> Trial | None:
    """Claim one pending trial of the given runs; only one worker, thread or machine can win a trial.

    PostgreSQL locks the candidate row and skips rows other claimers hold (FOR UPDATE SKIP LOCKED); SQLite
    serialises the whole transaction (IMMEDIATE mode). The UPDATE is conditional on the trial still being
    pending either way.
    """
    active = EvaluationRun.objects.filter(pk__in=run_ids, status=EvaluationRun.Status.RUNNING).values("pk")
    candidate = (
        Trial.objects.select_for_update(skip_locked=True)
        .filter(run_id__in=active, status=Trial.Status.PENDING)
        .order_by("index", "run_id")
        .values_list("pk", "run_id", "index", "seed", "attempts")
        .first()
    )
    if candidate is None:
        return None
    pk, run_id, index, seed, attempts = candidate
    claimed_at = timezone.now()
    won = Trial.objects.filter(pk=pk, status=Trial.Status.PENDING).update(
        status=Trial.Status.RUNNING, claim_token=token, claimed_at=claimed_at, attempts=F("attempts") + 1
    )
    if not won:
        return None
    # The claimed row as stored, without a second query; ``trial.run`` loads on first use.
    return Trial(
        pk=pk,
        run_id=run_id,
        index=index,
        seed=seed,
        attempts=attempts + 1,
        status=Trial.Status.RUNNING,
        claim_token=token,
        claimed_at=claimed_at,
    )


def trials_heartbeat(*, tokens: Iterable[str]) -> None:
    tokens = list(tokens)
    if tokens:
        Trial.objects.filter(claim_token__in=tokens, status=Trial.Status.RUNNING).update(
            claimed_at=timezone.now()
        )


def trial_release(*, trial_id: int, token: str) -> None:
    Trial.objects.filter(pk=trial_id, claim_token=token, status=Trial.Status.RUNNING).update(
        status=Trial.Status.PENDING, claim_token="", claimed_at=None
    )


def new_claim_token() -> str:
    return uuid.uuid4().hex


@dataclass
class ItemOutcome:
    item: int
    presented_order: list[int]
    raw_text: str
    extracted_option: int | None
    method: str
    detail: str
    reasked: bool = False


@dataclass
class TrialOutcome:
    transcript: list[dict[str, str]]
    items: list[ItemOutcome]
    failure: str = ""


@transaction.atomic
def trial_record_result(*, trial: Trial, token: str, outcome: TrialOutcome) -> bool:
    """Store a finished trial: scored when every item was extracted, else failed with the reason.

    Returns False (and stores nothing) when the claim was lost, e.g. the run was cancelled or the trial was
    released as stale and claimed by another worker: the trial is then never written twice.
    """
    fields: dict[str, Any] = {
        "transcript": outcome.transcript,
        "finished_at": timezone.now(),
        "claim_token": "",
    }
    failure = outcome.failure
    unextracted = [i.item for i in outcome.items if i.extracted_option is None]
    if not failure and unextracted:
        failure = f"no option could be extracted for item(s) {', '.join(map(str, unextracted))}"
    if not failure:
        run = trial.run
        choices = [i.extracted_option for i in sorted(outcome.items, key=lambda i: i.item)]
        score = svo.score_value(
            run.value, [c for c in choices if c is not None], definitions=run.definitions_version
        )
        fields |= {"status": Trial.Status.SCORED, "failure_reason": "", **rescoring.score_fields(score)}
    else:
        fields |= {"status": Trial.Status.FAILED, "failure_reason": failure}
    # The conditional UPDATE is the claim check and takes the row lock; the unique (trial, item) constraint
    # makes a second set of responses impossible.
    won = Trial.objects.filter(pk=trial.pk, claim_token=token, status=Trial.Status.RUNNING).update(**fields)
    if not won:
        return False
    ItemResponse.objects.bulk_create(
        [
            ItemResponse(
                trial=trial,
                item=i.item,
                presented_order=i.presented_order,
                raw_text=i.raw_text,
                extracted_option=i.extracted_option,
                extraction_method=i.method,
                extraction_detail=i.detail[:200],
                reasked=i.reasked,
                payoff_self=svo.ITEMS_BY_NUMBER[i.item].allocation(i.extracted_option)[0]
                if i.extracted_option
                else None,
                payoff_other=svo.ITEMS_BY_NUMBER[i.item].allocation(i.extracted_option)[1]
                if i.extracted_option
                else None,
            )
            for i in outcome.items
        ]
    )
    return True


@dataclass
class PendingCall:
    run_id: int
    trial_id: int | None
    purpose: str
    item: int | None
    record: CallRecord


def llm_calls_store(*, calls: Sequence[PendingCall]) -> None:
    LLMCall.objects.bulk_create(
        [
            LLMCall(
                run_id=c.run_id,
                trial_id=c.trial_id,
                purpose=c.purpose,
                item=c.item,
                attempt=c.record.attempt,
                request_messages=c.record.request_messages,
                params=c.record.params | ({"not_sent": list(c.record.not_sent)} if c.record.not_sent else {}),
                response_text=c.record.response_text,
                returned_model=c.record.returned_model[:200],
                system_fingerprint=c.record.system_fingerprint[:200],
                prompt_tokens=c.record.prompt_tokens,
                completion_tokens=c.record.completion_tokens,
                latency_ms=c.record.latency_ms,
                http_status=c.record.http_status,
                error=c.record.error,
                response_headers=c.record.response_headers,
            )
            for c in calls
        ]
    )


def evaluation_run_refresh(*, run_id: int) -> EvaluationRun:
    """Sum tokens and cost, and complete the run when no trial is left to do."""
    run = EvaluationRun.objects.select_related("endpoint").get(pk=run_id)
    usage = LLMCall.objects.filter(run=run).aggregate(p=Sum("prompt_tokens"), c=Sum("completion_tokens"))
    run.prompt_tokens, run.completion_tokens = usage["p"] or 0, usage["c"] or 0
    endpoint = run.endpoint
    if endpoint.prompt_price_per_million is not None and endpoint.completion_price_per_million is not None:
        run.cost = (
            Decimal(run.prompt_tokens) * endpoint.prompt_price_per_million
            + Decimal(run.completion_tokens) * endpoint.completion_price_per_million
        ) / Decimal(1_000_000)
    counts = run.trials.aggregate(
        open=Count("pk", filter=Q(status__in=[Trial.Status.PENDING, Trial.Status.RUNNING]))
    )
    fields = ["prompt_tokens", "completion_tokens", "cost"]
    if counts["open"] == 0 and run.status == EvaluationRun.Status.RUNNING:
        run.status = EvaluationRun.Status.COMPLETED
        run.finished_at = timezone.now()
        fields += ["status", "finished_at"]
        logger.info("run completed run=%s", run.pk)
    run.save(update_fields=fields)
    return run


def stale_claim_seconds() -> float:
    return float(settings.HVAE_STALE_CLAIM_SECONDS)
