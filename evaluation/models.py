"""What an SVO evaluation produces: studies, endpoints, runs, trials, item responses and every LLM call."""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from evaluation import svo

VALUE_CHOICES = [(v, v) for v in svo.VALUES]


class Study(models.Model):
    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    consent_text = models.TextField(
        blank=True, help_text="Shown to raters before they start; its version is recorded with their consent."
    )
    consent_version = models.CharField(max_length=50, default="1")
    completion_url = models.URLField(
        blank=True, help_text="Crowd-platform completion URL raters are sent to when their quota is done."
    )
    completion_code = models.CharField(max_length=100, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_studies",
        help_text="Sees and edits the study, and names its collaborators. A study without one is visible "
        "to superusers only.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "studies"

    def __str__(self) -> str:
        return self.name


class StudyMember(models.Model):
    """A collaborator on a study: a viewer reads everything; an editor also starts and cancels runs, pushes and
    syncs annotation batches, edits the study and excludes raters."""

    class Role(models.TextChoices):
        VIEWER = "viewer"
        EDITOR = "editor"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="study_memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)

    class Meta:
        ordering = ["study_id", "user_id"]
        constraints = [
            models.UniqueConstraint(fields=["study", "user"], name="study_member_unique_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.role}) on {self.study}"


class ModelEndpoint(models.Model):
    """An OpenAI-compatible endpoint. The API key is never stored: only the name of its variable."""

    name = models.CharField(max_length=200, unique=True)
    base_url = models.URLField(max_length=500)
    api_key_env = models.CharField(
        max_length=100,
        blank=True,
        help_text="Name of the environment variable holding the key (blank: none).",
    )
    max_concurrency = models.PositiveIntegerField(default=8)
    requests_per_minute = models.PositiveIntegerField(null=True, blank=True)
    timeout_seconds = models.FloatField(default=60.0)
    max_attempts = models.PositiveIntegerField(default=5)
    max_retry_seconds = models.FloatField(default=120.0, help_text="Give up retrying a call after this long.")
    prompt_price_per_million = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    completion_price_per_million = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    is_reference = models.BooleanField(
        default=False, help_text="Serves the project's calibration agents rather than a real LLM."
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="endpoints",
        help_text="Who saved it; only they (and superusers) see and use it unless it is shared.",
    )
    shared = models.BooleanField(default=False, help_text="Usable by every researcher (set by an admin).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PromptTemplate(models.Model):
    """A versioned prompt text. Runs refer to exact versions; a changed text is a new version."""

    name = models.CharField(max_length=100)
    version = models.PositiveIntegerField()
    text = models.TextField()
    content_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="prompt_template_unique_version"),
            models.UniqueConstraint(fields=["name", "content_hash"], name="prompt_template_unique_text"),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.content_hash = self.hash_text(self.text)
        super().save(*args, **kwargs)

    @staticmethod
    def hash_text(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EvaluationRun(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        COMPLETED = "completed"
        CANCELLED = "cancelled"
        FAILED = "failed"

    class Strategy(models.TextChoices):
        PLAIN = "plain"
        GOAL = "goal"

    class ItemSet(models.TextChoices):
        PRIMARY = "primary"
        ALL = "all"

    class OptionLabels(models.TextChoices):
        LETTERS = "letters"
        NUMBERS = "numbers"

    class OptionOrder(models.TextChoices):
        FIXED = "fixed"
        REVERSED = "reversed"
        RANDOM = "random"

    class OnUnreadable(models.TextChoices):
        """What happens when no option can be read from an answer."""

        REASK = "reask", "ask once more, then the extractor, then fail"
        EXTRACT = "extract", "the extractor, then fail"
        FAIL = "fail", "fail the trial at once"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="runs")
    endpoint = models.ForeignKey(ModelEndpoint, on_delete=models.PROTECT, related_name="runs")
    model = models.CharField(max_length=200)
    value = models.CharField(max_length=20, choices=VALUE_CHOICES)
    strategy = models.CharField(max_length=10, choices=Strategy.choices, default=Strategy.PLAIN)
    prompt_variant = models.CharField(max_length=50, default="dialogue")
    item_set = models.CharField(max_length=10, choices=ItemSet.choices, default=ItemSet.PRIMARY)
    option_labels = models.CharField(
        max_length=10, choices=OptionLabels.choices, default=OptionLabels.LETTERS
    )
    option_order = models.CharField(max_length=10, choices=OptionOrder.choices, default=OptionOrder.FIXED)
    temperature = models.FloatField(
        null=True,
        blank=True,
        help_text="Sampling temperature sent; empty: none sent (the provider's default).",
    )
    top_p = models.FloatField(null=True, blank=True)
    max_tokens = models.PositiveIntegerField(default=400)
    seed = models.BigIntegerField(default=0)
    n_trials = models.PositiveIntegerField()
    prompt_versions = models.JSONField(
        default=dict, help_text="Template name -> {version, hash} used by the run."
    )
    definitions_version = models.CharField(max_length=50, default=svo.DEFINITIONS_VERSION)
    extractor_endpoint = models.ForeignKey(
        ModelEndpoint, on_delete=models.PROTECT, null=True, blank=True, related_name="extractor_runs"
    )
    extractor_model = models.CharField(max_length=200, blank=True)
    on_unreadable = models.CharField(max_length=10, choices=OnUnreadable.choices, default=OnUnreadable.REASK)
    provenance = models.JSONField(
        default=dict,
        blank=True,
        help_text="Service version, versions of the packages that shape results, and the definitions.",
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True)
    error = models.TextField(blank=True)
    prompt_tokens = models.BigIntegerField(default=0)
    completion_tokens = models.BigIntegerField(default=0)
    cost = models.DecimalField(max_digits=14, decimal_places=6, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(n_trials__gt=0), name="run_positive_trials"),
            models.CheckConstraint(condition=Q(value__in=list(svo.VALUES)), name="run_known_value"),
        ]

    def __str__(self) -> str:
        return f"run {self.pk}: {self.model} / {self.value} / {self.strategy}"

    @property
    def is_finished(self) -> bool:
        return self.status in {self.Status.COMPLETED, self.Status.CANCELLED, self.Status.FAILED}


class Trial(models.Model):
    """One fresh conversation: value induction, optional goal, then one decision per item."""

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        SCORED = "scored"
        FAILED = "failed"

    run = models.ForeignKey(EvaluationRun, on_delete=models.CASCADE, related_name="trials")
    index = models.PositiveIntegerField()
    seed = models.BigIntegerField(default=0, help_text="Seeds the presented order and the model's sampling.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    claim_token = models.CharField(max_length=64, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    failure_reason = models.TextField(blank=True)
    transcript = models.JSONField(default=list, help_text="The conversation as chat messages, in order.")
    angle = models.FloatField(null=True, blank=True)
    category = models.CharField(max_length=20, choices=VALUE_CHOICES, blank=True)
    mean_self = models.FloatField(null=True, blank=True)
    mean_other = models.FloatField(null=True, blank=True)
    transitive = models.BooleanField(null=True)
    target_angle = models.FloatField(null=True, blank=True)
    angular_deviation = models.FloatField(null=True, blank=True)
    value_rationality = models.FloatField(null=True, blank=True)
    category_hit = models.BooleanField(null=True)
    inequality_aversion = models.FloatField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run_id", "index"]
        constraints = [
            models.UniqueConstraint(fields=["run", "index"], name="trial_unique_index_per_run"),
        ]

    def __str__(self) -> str:
        return f"trial {self.index} of run {self.run_id}"


class ItemResponse(models.Model):
    class Method(models.TextChoices):
        PARSER = "parser"
        LLM = "llm"
        UNPARSEABLE = "unparseable"

    trial = models.ForeignKey(Trial, on_delete=models.CASCADE, related_name="responses")
    item = models.PositiveSmallIntegerField()
    presented_order = models.JSONField(
        help_text="Canonical option numbers in the order shown (label 1 first)."
    )
    raw_text = models.TextField()
    extracted_option = models.PositiveSmallIntegerField(null=True, blank=True)
    extraction_method = models.CharField(max_length=20, choices=Method.choices)
    extraction_detail = models.CharField(max_length=200, blank=True)
    reasked = models.BooleanField(
        default=False, help_text="Asked once more because no option could be read from the first answer."
    )
    payoff_self = models.IntegerField(null=True, blank=True)
    payoff_other = models.IntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["trial_id", "item"]
        constraints = [
            models.UniqueConstraint(fields=["trial", "item"], name="item_response_unique_per_trial"),
            models.CheckConstraint(condition=Q(item__gte=1, item__lte=15), name="item_response_item_range"),
            models.CheckConstraint(
                condition=Q(extracted_option__isnull=True)
                | Q(extracted_option__gte=1, extracted_option__lte=9),
                name="item_response_option_range",
            ),
        ]

    def __str__(self) -> str:
        return f"item {self.item} of trial {self.trial_id}"


class LLMCall(models.Model):
    """One HTTP attempt against an endpoint, kept whatever happened."""

    run = models.ForeignKey(EvaluationRun, on_delete=models.CASCADE, related_name="calls")
    trial = models.ForeignKey(Trial, on_delete=models.CASCADE, related_name="calls", null=True, blank=True)
    purpose = models.CharField(max_length=30)
    item = models.PositiveSmallIntegerField(null=True, blank=True)
    attempt = models.PositiveSmallIntegerField(default=1)
    request_messages = models.JSONField()
    params = models.JSONField(default=dict)
    response_text = models.TextField(blank=True)
    returned_model = models.CharField(max_length=200, blank=True)
    system_fingerprint = models.CharField(max_length=200, blank=True)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["run", "trial"])]

    def __str__(self) -> str:
        return f"{self.purpose} call {self.pk} (attempt {self.attempt})"
