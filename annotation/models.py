"""Human validation: batches of transcripts in Label Studio, the raters who judge them, and their judgments."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q

from annotation import labeling
from evaluation.models import VALUE_CHOICES, Study, Trial

ARM_CHOICES = [
    (labeling.BLIND, "blind: the transcript only"),
    (labeling.VALUE_SHOWN, "value shown: the transcript and the induced value"),
    (labeling.INFORMED, "informed: the extracted choices, payoffs and the SVO ring"),
]
JUDGED_CATEGORY_CHOICES = [*VALUE_CHOICES, (labeling.UNCLEAR, labeling.UNCLEAR)]


def new_batch_key() -> str:
    """A key no other batch, in this database or an earlier one, will have: it names the batch's Label Studio
    project and prefixes its task keys, so a recreated database never adopts another batch's project."""
    return f"hvae-{secrets.token_hex(6)}"


class AnnotationBatch(models.Model):
    """A sample of a study's transcripts pushed to one Label Studio project.

    The design (arm, size, overlap, seed, gold) identifies the batch: pushing the same design again reuses it.
    """

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="batches")
    arm = models.CharField(
        max_length=20,
        choices=ARM_CHOICES,
        default=labeling.BLIND,
        help_text="What raters see. Arms are reported separately, never pooled.",
    )
    size = models.PositiveIntegerField()
    overlap = models.PositiveIntegerField(
        default=3, help_text="Raters per task (Label Studio maximum_annotations)."
    )
    seed = models.BigIntegerField(default=0)
    gold = models.PositiveIntegerField(
        default=0, help_text="Gold items with a known orientation, to screen raters."
    )
    show_choices = models.BooleanField(
        default=True, help_text="Show the extracted choices and payoffs (informed arm only)."
    )
    extraction_audit = models.BooleanField(
        default=False, help_text="Raters also read off each item's option."
    )
    show_prediction = models.BooleanField(
        default=False,
        help_text="Show the automated result as a prediction (informed arm only; off by default: it anchors "
        "raters).",
    )
    show_induction = models.BooleanField(
        default=False,
        help_text="Show the value-induction exchange (off by default: it names the induced value, which anchors "
        "raters; they judge the behaviour that follows).",
    )
    tasks_per_rater = models.PositiveIntegerField(
        default=20, help_text="A rater's quota before the completion code."
    )
    gold_fail_threshold = models.FloatField(
        default=0.5,
        help_text="Raters whose gold accuracy is below this (once they answered gold_min_answered gold items) "
        "are flagged.",
    )
    gold_min_answered = models.PositiveIntegerField(
        default=2, help_text="Gold items a rater must have answered before they can be flagged."
    )
    gold_per_rater = models.PositiveIntegerField(
        default=0,
        help_text="Gold items every rater meets within their first tasks_per_rater tasks (the import order "
        "guarantees it; 0: no guarantee).",
    )
    include_reference = models.BooleanField(
        default=False,
        help_text="Reference-agent transcripts may be sampled as ordinary items (demos); otherwise they enter "
        "only as gold.",
    )
    sampling_spec = models.JSONField(default=dict, help_text="Strata and counts actually drawn.")
    key = models.CharField(max_length=40, unique=True, default=new_batch_key, editable=False)
    label_studio_project_id = models.PositiveIntegerField(null=True, blank=True)
    invite_token = models.CharField(max_length=64, unique=True, default=secrets.token_urlsafe, editable=False)
    invite_expires_at = models.DateTimeField(null=True, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "annotation batches"
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "study",
                    "arm",
                    "size",
                    "overlap",
                    "seed",
                    "gold",
                    "gold_per_rater",
                    "include_reference",
                ],
                name="batch_unique_design",
            ),
            models.CheckConstraint(
                condition=Q(arm__in=[labeling.BLIND, labeling.VALUE_SHOWN, labeling.INFORMED]),
                name="batch_arm",
            ),
            models.CheckConstraint(
                condition=Q(arm=labeling.INFORMED) | Q(show_prediction=False),
                name="batch_prediction_only_informed",
            ),
            models.CheckConstraint(condition=Q(size__gt=0), name="batch_positive_size"),
            models.CheckConstraint(condition=Q(overlap__gt=0), name="batch_positive_overlap"),
            models.CheckConstraint(
                condition=Q(gold_per_rater__lte=models.F("tasks_per_rater")), name="batch_gold_within_quota"
            ),
            models.CheckConstraint(
                condition=Q(gold_fail_threshold__gte=0, gold_fail_threshold__lte=1),
                name="batch_gold_threshold",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"batch {self.pk} of {self.study} ({self.arm}, n={self.size}, k={self.overlap}, seed={self.seed})"
        )

    @property
    def gold_never_fills(self) -> bool:
        """A batch that promises gold per rater serves its gold tasks to every rater (their own overlap never
        fills: ``services.GOLD_TASK_OVERLAP``); in any other batch gold tasks fill up like the rest."""
        return self.gold_per_rater > 0


class GoldSource(models.TextChoices):
    RESEARCHER = "researcher", "researcher: set by a researcher"
    CONSTRUCTED = "constructed", "constructed: a reference agent's disposition, known by construction"


class GoldLabel(models.Model):
    """The orientation a trial's transcript is known to show, to screen raters. Never the automated category.

    ``constructed``: written by the service for reference agents whose disposition is defined by construction
    (``annotation.sampling.constructed_gold``); ``researcher``: set by a researcher (admin, or
    ``manage.py import_gold``), and then it wins over a constructed label of the same trial.
    """

    trial = models.OneToOneField(Trial, on_delete=models.CASCADE, related_name="gold_label")
    category = models.CharField(max_length=20, choices=VALUE_CHOICES)
    source = models.CharField(max_length=20, choices=GoldSource.choices, default=GoldSource.RESEARCHER)
    note = models.TextField(blank=True)
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["trial_id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(source__in=[GoldSource.RESEARCHER, GoldSource.CONSTRUCTED]),
                name="gold_label_source",
            ),
        ]

    def __str__(self) -> str:
        return f"gold {self.category} ({self.source}) of trial {self.trial_id}"


class AnnotationTask(models.Model):
    batch = models.ForeignKey(AnnotationBatch, on_delete=models.CASCADE, related_name="tasks")
    trial = models.ForeignKey(Trial, on_delete=models.PROTECT, related_name="annotation_tasks")
    key = models.CharField(
        max_length=100, unique=True, help_text="Our idempotency key, also in the task data."
    )
    is_gold = models.BooleanField(default=False)
    gold_category = models.CharField(max_length=20, choices=VALUE_CHOICES, blank=True)
    gold_source = models.CharField(
        max_length=20, choices=GoldSource.choices, blank=True, help_text="Where the gold label came from."
    )
    position = models.PositiveIntegerField(
        null=True, blank=True, help_text="Place in the import order, which Label Studio serves (0 first)."
    )
    label_studio_task_id = models.PositiveIntegerField(null=True, blank=True, unique=True)

    class Meta:
        ordering = ["batch_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "trial"], name="task_unique_trial_per_batch"),
            models.UniqueConstraint(fields=["batch", "position"], name="task_unique_position_per_batch"),
            models.CheckConstraint(
                condition=Q(is_gold=True) | Q(gold_category="", gold_source=""),
                name="task_gold_label_only_on_gold",
            ),
        ]

    def __str__(self) -> str:
        return self.key


class Rater(models.Model):
    """A person recruited through a batch's invite link. Never deleted: flagged or excluded instead."""

    batch = models.ForeignKey(AnnotationBatch, on_delete=models.CASCADE, related_name="raters")
    participant_id = models.CharField(
        max_length=200, help_text="Crowd-platform id (PROLIFIC_PID) or our own."
    )
    platform_study_id = models.CharField(max_length=200, blank=True)
    platform_session_id = models.CharField(max_length=200, blank=True)
    email = models.EmailField(help_text="The Label Studio login made for the rater (not a real address).")
    label_studio_user_id = models.PositiveIntegerField(null=True, blank=True)
    # Label Studio's open-source edition has no single sign-on: the service signs the rater in with this generated
    # password and hands Label Studio's session cookie to the rater's browser; it is never shown to anyone.
    label_studio_password = models.CharField(max_length=64, blank=True, editable=False)
    consented_at = models.DateTimeField(null=True, blank=True)
    consent_version = models.CharField(max_length=50, blank=True)
    flagged = models.BooleanField(default=False, help_text="Failed gold items past the batch's threshold.")
    excluded = models.BooleanField(default=False, help_text="Left out of the statistics (never deleted).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["batch_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["batch", "participant_id"], name="rater_unique_participant_per_batch"
            ),
        ]

    def __str__(self) -> str:
        return f"rater {self.participant_id}"


class HumanJudgment(models.Model):
    """One Label Studio annotation, upserted on its id; a deleted annotation is marked, not erased."""

    label_studio_annotation_id = models.PositiveIntegerField(unique=True)
    task = models.ForeignKey(AnnotationTask, on_delete=models.PROTECT, related_name="judgments")
    trial = models.ForeignKey(Trial, on_delete=models.PROTECT, related_name="judgments")
    rater = models.ForeignKey(
        Rater, on_delete=models.PROTECT, null=True, blank=True, related_name="judgments"
    )
    label_studio_user_id = models.PositiveIntegerField(null=True, blank=True)
    category = models.CharField(max_length=20, choices=JUDGED_CATEGORY_CHOICES, blank=True)
    angle_estimate = models.FloatField(null=True, blank=True)
    confidence = models.PositiveSmallIntegerField(null=True, blank=True)
    served_value = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="How well the agent's decisions served the induced value, 1-7 (value-shown arm).",
    )
    extraction_audit = models.JSONField(
        default=dict, blank=True, help_text="Item number -> option read (or null)."
    )
    comment = models.TextField(blank=True)
    lead_time = models.FloatField(
        null=True, blank=True, help_text="Seconds the rater spent, per Label Studio."
    )
    was_cancelled = models.BooleanField(default=False)
    deleted = models.BooleanField(default=False)
    deleted_at = models.DateTimeField(null=True, blank=True)
    raw_result = models.JSONField(default=list)
    annotated_at = models.DateTimeField(null=True, blank=True)
    annotation_updated_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["task_id", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(confidence__isnull=True) | Q(confidence__gte=1, confidence__lte=5),
                name="judgment_confidence_range",
            ),
            models.CheckConstraint(
                condition=Q(served_value__isnull=True) | Q(served_value__gte=1, served_value__lte=7),
                name="judgment_served_value_range",
            ),
        ]

    def __str__(self) -> str:
        return f"judgment {self.label_studio_annotation_id} on {self.task}"


# --- People taking the SVO slider themselves: the human baseline on the models' task --------------------------

INDUCE_NONE = "none"
INDUCE_RANDOM = "random"
INDUCE_CHOICES = [(INDUCE_NONE, INDUCE_NONE), *VALUE_CHOICES, (INDUCE_RANDOM, INDUCE_RANDOM)]
ITEM_SET_CHOICES = [("primary", "primary items 1-6"), ("all", "all 15 items")]


class SvoLink(models.Model):
    """A signed link through which people take the SVO slider for a study, optionally under value induction."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="svo_links")
    induce = models.CharField(
        max_length=20,
        choices=INDUCE_CHOICES,
        default=INDUCE_NONE,
        help_text="The value whose description participants read first; random assigns one per participant, "
        "balanced over the four values.",
    )
    items = models.CharField(max_length=10, choices=ITEM_SET_CHOICES, default="primary")
    retest_after_hours = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Hours after the first wave when the retest opens (blank: no retest).",
    )
    quota = models.PositiveIntegerField(
        null=True, blank=True, help_text="Participants admitted (blank: no limit)."
    )
    seed = models.BigIntegerField(default=0, help_text="Breaks ties between equally filled induction arms.")
    token = models.CharField(max_length=64, unique=True, default=secrets.token_urlsafe, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "SVO participant link"
        constraints = [
            models.CheckConstraint(
                condition=Q(quota__isnull=True) | Q(quota__gt=0), name="svo_link_positive_quota"
            ),
            models.CheckConstraint(
                condition=Q(retest_after_hours__isnull=True) | Q(retest_after_hours__gte=0),
                name="svo_link_retest_hours",
            ),
        ]

    def __str__(self) -> str:
        return f"SVO link {self.pk} of {self.study} (induce {self.induce}, {self.items} items)"


class Participant(models.Model):
    """A person who consented through an SVO link. Never deleted: their responses are flagged instead."""

    link = models.ForeignKey(SvoLink, on_delete=models.CASCADE, related_name="participants")
    participant_id = models.CharField(
        max_length=200, help_text="Crowd-platform id (PROLIFIC_PID) or our own."
    )
    platform_study_id = models.CharField(max_length=200, blank=True)
    platform_session_id = models.CharField(max_length=200, blank=True)
    assigned_value = models.CharField(
        max_length=20, choices=VALUE_CHOICES, blank=True, help_text="The induced value (blank: none)."
    )
    reversed_slider = models.BooleanField(
        default=False,
        help_text="Murphy's version B: every slider runs from option 9 on the left to option 1.",
    )
    order_seed = models.BigIntegerField(help_text="Seeds the random item order of each wave.")
    retest_key = models.CharField(max_length=64, unique=True, default=secrets.token_urlsafe, editable=False)
    consented_at = models.DateTimeField()
    consent_version = models.CharField(max_length=50)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["link_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["link", "participant_id"], name="participant_unique_per_link"),
        ]

    def __str__(self) -> str:
        return f"participant {self.participant_id}"


class SvoResponseSet(models.Model):
    """One wave of one participant's slider answers, scored by ``evaluation.svo`` when submitted."""

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="response_sets")
    wave = models.PositiveSmallIntegerField(help_text="1: first administration; 2: the retest.")
    items = models.CharField(max_length=10, choices=ITEM_SET_CHOICES)
    definitions_version = models.CharField(max_length=40)
    value = models.CharField(max_length=20, choices=VALUE_CHOICES, blank=True, help_text="Induced value.")
    angle = models.FloatField()
    category = models.CharField(max_length=20, choices=VALUE_CHOICES)
    mean_self = models.FloatField()
    mean_other = models.FloatField()
    transitive = models.BooleanField()
    inequality_aversion = models.FloatField(null=True, blank=True)
    value_rationality = models.FloatField(null=True, blank=True, help_text="For the induced value.")
    angular_deviation = models.FloatField(null=True, blank=True, help_text="For the induced value.")
    category_hit = models.BooleanField(null=True, blank=True, help_text="Category equals the induced value.")
    scores = models.JSONField(default=dict, help_text="Every value's VR and deviation, secondary distances.")
    straight_lined = models.BooleanField(help_text="Every item answered with the same option.")
    too_fast = models.BooleanField(help_text="Median seconds per item below the plausibility threshold.")
    median_item_seconds = models.FloatField(null=True, blank=True)
    page_seconds = models.FloatField(null=True, blank=True, help_text="Server time from page to submission.")
    submitted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["participant_id", "wave"]
        constraints = [
            models.UniqueConstraint(fields=["participant", "wave"], name="svo_response_set_unique_wave"),
            models.CheckConstraint(condition=Q(wave__in=[1, 2]), name="svo_response_set_wave"),
        ]

    def __str__(self) -> str:
        return f"wave {self.wave} of {self.participant}"


class SvoItemAnswer(models.Model):
    """One slider: the Murphy option chosen, where the item was shown, in which direction, and for how long."""

    response_set = models.ForeignKey(SvoResponseSet, on_delete=models.CASCADE, related_name="answers")
    item = models.PositiveSmallIntegerField()
    option = models.PositiveSmallIntegerField(
        help_text="Murphy's option 1-9, whatever the display direction."
    )
    position = models.PositiveSmallIntegerField(help_text="1-based place of the item on the page.")
    reversed_slider = models.BooleanField(help_text="Shown with option 9 on the left (version B).")
    changed_at = models.FloatField(
        null=True, blank=True, help_text="Seconds after the page opened of the slider's last change."
    )
    seconds = models.FloatField(
        null=True,
        blank=True,
        help_text="Seconds since the previous item's last change (page opening for the first).",
    )

    class Meta:
        ordering = ["response_set_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["response_set", "item"], name="svo_answer_unique_item"),
            models.CheckConstraint(condition=Q(option__gte=1, option__lte=9), name="svo_answer_option_range"),
            models.CheckConstraint(condition=Q(item__gte=1, item__lte=15), name="svo_answer_item_range"),
        ]

    def __str__(self) -> str:
        return f"item {self.item}: option {self.option}"

    @property
    def stop_from_left(self) -> int:
        """Where the chosen stop was on screen, 1 (left) to 9: the option itself, or mirrored under version B."""
        return 10 - self.option if self.reversed_slider else self.option
