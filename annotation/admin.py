"""Admin pages for human validation: batches (with invite links), raters and their judgments."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString

from annotation import gold_labels, selectors, services
from annotation.models import AnnotationBatch, AnnotationTask, GoldLabel, HumanJudgment, Rater
from evaluation import access
from evaluation.admin import StudyScopedAdmin
from evaluation.models import Trial
from hvae_site.api import DomainError


def _scoped_choice(db_field: Any, request: HttpRequest, kwargs: dict[str, Any]) -> Any:
    """Batches and trials offered in a form: only those of studies the user may change."""
    writable = access.studies_writable_by(request.user).values("pk")
    if db_field.name == "batch":
        kwargs["queryset"] = AnnotationBatch.objects.filter(study__in=writable)
    elif db_field.name == "trial":
        kwargs["queryset"] = Trial.objects.filter(run__study__in=writable)
    else:
        return None
    return db_field.formfield(**kwargs)


@admin.register(AnnotationBatch)
class AnnotationBatchAdmin(StudyScopedAdmin):
    list_display = [
        "id",
        "study",
        "arm",
        "size",
        "overlap",
        "seed",
        "gold",
        "gold_per_rater",
        "include_reference",
        "label_studio_project_id",
        "judgment_count",
        "last_synced_at",
    ]
    list_filter = ["study", "arm"]
    readonly_fields = [
        "key",
        "invite_link",
        "sampling_spec",
        "label_studio_project_id",
        "last_synced_at",
        "created_at",
    ]

    actions = ["sync_from_label_studio"]

    def get_readonly_fields(self, request: HttpRequest, obj: AnnotationBatch | None = None) -> list[str]:
        """The arm, the reference rule and the screening rule are part of the batch's design: set when it is
        made, never changed (flags are computed with the rule recorded)."""
        fields = list(super().get_readonly_fields(request, obj))
        fixed = ["arm", "include_reference", "gold_per_rater", "gold_min_answered", "gold_fail_threshold"]
        return [*fields, *fixed] if obj is not None else fields

    def has_sync_permission(self, request: HttpRequest) -> bool:
        """Syncing writes judgments: the batch change permission and editor rights on some study."""
        return bool(
            request.user.has_perm("annotation.change_annotationbatch")
            and access.is_researcher(request.user)
            and access.studies_writable_by(request.user).exists()
        )

    @admin.action(
        description="Sync judgments from Label Studio (the studies of the selected batches)",
        permissions=["sync"],
    )
    def sync_from_label_studio(self, request: HttpRequest, queryset: QuerySet[AnnotationBatch]) -> None:
        writable = access.studies_writable_by(request.user)
        for study in writable.filter(batches__in=queryset).distinct():
            try:
                result = services.annotation_sync(study=study)
            except DomainError as exc:
                messages.error(request, f"{study}: {exc.message}")
                continue
            messages.info(
                request,
                f"{study}: {result.annotations} annotation(s) in Label Studio, {result.created} new judgment(s), "
                f"{result.deleted} marked deleted.",
            )

    @admin.display(description="judgments")
    def judgment_count(self, batch: AnnotationBatch) -> int:
        return HumanJudgment.objects.filter(task__batch=batch, deleted=False).count()

    @admin.display(description="invite link")
    def invite_link(self, batch: AnnotationBatch) -> SafeString:
        url = selectors.invite_url(batch=batch)
        return format_html('<a href="{}">{}</a>', url, url)


@admin.register(AnnotationTask)
class AnnotationTaskAdmin(StudyScopedAdmin):
    study_path = "batch__study"

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        return _scoped_choice(db_field, request, kwargs) or super().formfield_for_foreignkey(
            db_field, request, **kwargs
        )

    list_display = ["key", "batch", "position", "trial", "is_gold", "gold", "label_studio_task_id"]
    list_filter = ["batch", "is_gold", "gold_source"]
    search_fields = ["key"]

    @admin.display(description="gold label (source)")
    def gold(self, task: AnnotationTask) -> str:
        return f"{task.gold_category} ({task.gold_source})" if task.is_gold else "–"


@admin.register(GoldLabel)
class GoldLabelAdmin(StudyScopedAdmin):
    """Gold labels, marked by source. Researchers set theirs here (or with ``manage.py import_gold``); a
    researcher's label replaces a constructed one. Constructed labels are the service's, from reference agents
    whose disposition is known by construction. The automated category is never a gold label."""

    study_path = "trial__run__study"
    list_display = ["trial", "study", "agent", "category", "source", "note", "set_by", "updated_at"]
    list_filter = ["source", "category", "trial__run__study"]
    search_fields = ["trial__id", "note"]
    fields = ["trial", "category", "note", "source", "set_by", "updated_at"]
    readonly_fields = ["source", "set_by", "updated_at"]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        return _scoped_choice(db_field, request, kwargs) or super().formfield_for_foreignkey(
            db_field, request, **kwargs
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return access.is_researcher(request.user) and super().has_add_permission(request)

    def get_readonly_fields(self, request: HttpRequest, obj: GoldLabel | None = None) -> list[str]:
        """A label belongs to its trial: the trial is chosen when the label is made, never changed."""
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "trial"] if obj is not None else fields

    def save_model(self, request: HttpRequest, obj: GoldLabel, form: Any, change: bool) -> None:
        """Through the service: a trial of a study the user may change, and the label becomes the researcher's."""
        saved = gold_labels.gold_label_set(
            trial=obj.trial, category=obj.category, note=obj.note, user=request.user
        )
        obj.pk, obj.source, obj.set_by, obj.updated_at = (
            saved.pk,
            saved.source,
            saved.set_by,
            saved.updated_at,
        )
        obj._state.adding = False

    @admin.display(description="study")
    def study(self, label: GoldLabel) -> str:
        return str(label.trial.run.study)

    @admin.display(description="model")
    def agent(self, label: GoldLabel) -> str:
        return label.trial.run.model


@admin.register(Rater)
class RaterAdmin(StudyScopedAdmin):
    study_path = "batch__study"

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        return _scoped_choice(db_field, request, kwargs) or super().formfield_for_foreignkey(
            db_field, request, **kwargs
        )

    list_display = [
        "participant_id",
        "batch",
        "consented_at",
        "consent_version",
        "progress",
        "gold_accuracy",
        "flagged",
        "excluded",
    ]
    list_filter = ["batch", "flagged", "excluded"]
    search_fields = ["participant_id", "email"]
    readonly_fields = [
        "participant_id",
        "platform_study_id",
        "platform_session_id",
        "email",
        "label_studio_user_id",
        "consented_at",
        "consent_version",
        "flagged",
        "created_at",
    ]
    actions = ["exclude_from_statistics", "include_in_statistics"]

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # raters are flagged or excluded, never deleted

    @admin.display(description="done / quota")
    def progress(self, rater: Rater) -> str:
        return f"{selectors.rater_done(rater=rater)} / {rater.batch.tasks_per_rater}"

    @admin.display(description="gold accuracy")
    def gold_accuracy(self, rater: Rater) -> str:
        record = selectors.rater_gold_record(rater=rater)
        if not record.answered:
            return "–"
        return f"{record.correct}/{record.answered}" + (
            f" ({record.unclear} unclear)" if record.unclear else ""
        )

    def _changeable(self, request: HttpRequest, queryset: QuerySet[Rater]) -> QuerySet[Rater]:
        return queryset.filter(batch__study__in=access.studies_writable_by(request.user).values("pk"))

    @admin.action(description="Exclude from statistics", permissions=["change"])
    def exclude_from_statistics(self, request: HttpRequest, queryset: QuerySet[Rater]) -> None:
        queryset = self._changeable(request, queryset)
        for rater in queryset:
            services.rater_set_excluded(rater=rater, excluded=True)
        messages.info(
            request, f"{queryset.count()} rater(s) excluded from statistics (their judgments are kept)."
        )

    @admin.action(description="Include in statistics", permissions=["change"])
    def include_in_statistics(self, request: HttpRequest, queryset: QuerySet[Rater]) -> None:
        queryset = self._changeable(request, queryset)
        for rater in queryset:
            services.rater_set_excluded(rater=rater, excluded=False)
        messages.info(request, f"{queryset.count()} rater(s) included in statistics.")


@admin.register(HumanJudgment)
class HumanJudgmentAdmin(StudyScopedAdmin):
    study_path = "task__batch__study"

    list_display = [
        "label_studio_annotation_id",
        "task",
        "rater",
        "category",
        "angle_estimate",
        "confidence",
        "lead_time",
        "deleted",
        "received_at",
    ]
    list_filter = ["task__batch", "category", "deleted"]
    readonly_fields = [f.name for f in HumanJudgment._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


# --- People taking the SVO slider -------------------------------------------------------------------------------

from annotation import participant_selectors, participant_services  # noqa: E402
from annotation.models import Participant, SvoItemAnswer, SvoLink, SvoResponseSet  # noqa: E402
from evaluation.admin import ReadOnlyInline, RecordAdmin  # noqa: E402


@admin.register(SvoLink)
class SvoLinkAdmin(StudyScopedAdmin):
    """Participant links: made here (through the same service as the API and the command), then read-only."""

    list_display = [
        "id",
        "study",
        "induce",
        "items",
        "retest_after_hours",
        "quota",
        "participant_count",
        "created_at",
    ]
    list_filter = ["study", "induce", "items"]
    fields = [
        "study",
        "induce",
        "items",
        "retest_after_hours",
        "quota",
        "seed",
        "participant_link",
        "created_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # The form offers only studies the user may change (``StudyScopedAdmin``); saving checks again.
        return access.is_researcher(request.user) and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # a link's design never changes once people may have used it

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # never deleted: its participants' answers hang off it

    readonly_fields = ["participant_link", "created_at"]

    def save_model(self, request: HttpRequest, obj: SvoLink, form: Any, change: bool) -> None:
        access.check_write(request.user, obj.study)
        link = participant_services.svo_link_create(
            study=obj.study,
            induce=obj.induce,
            items=obj.items,
            retest_after_hours=obj.retest_after_hours,
            quota=obj.quota,
            seed=obj.seed,
            created_by=access.researcher(request.user),
        )
        obj.pk, obj.token, obj.created_at = link.pk, link.token, link.created_at
        obj._state.adding = False

    @admin.display(description="participants")
    def participant_count(self, link: SvoLink) -> int:
        return link.participants.count()

    @admin.display(description="link for participants")
    def participant_link(self, link: SvoLink) -> SafeString | str:
        if link.pk is None:
            return "made when saved"
        url = participant_selectors.svo_link_url(link=link)
        return format_html('<a href="{}">{}</a>', url, url)


class SvoResponseSetInline(ReadOnlyInline):
    model = SvoResponseSet
    fields = [
        "wave",
        "angle",
        "category",
        "value_rationality",
        "transitive",
        "straight_lined",
        "too_fast",
        "submitted_at",
    ]


@admin.register(Participant)
class ParticipantAdmin(RecordAdmin):
    """People who joined through a link: recorded by their own pages, shown here, never added, changed or
    deleted by hand (their answers are kept and flagged)."""

    study_path = "link__study"
    list_display = ["participant_id", "link", "assigned_value", "reversed_slider", "consented_at", "waves"]
    list_filter = ["link", "assigned_value", "reversed_slider"]
    search_fields = ["participant_id"]
    readonly_fields = [f.name for f in Participant._meta.fields if f.name != "retest_key"]
    exclude = ["retest_key"]
    inlines = [SvoResponseSetInline]

    @admin.display(description="waves done")
    def waves(self, participant: Participant) -> str:
        return ", ".join(str(r.wave) for r in participant.response_sets.all()) or "–"


class SvoItemAnswerInline(ReadOnlyInline):
    model = SvoItemAnswer
    fields = ["position", "item", "option", "reversed_slider", "changed_at", "seconds"]
    show_change_link = False


@admin.register(SvoResponseSet)
class SvoResponseSetAdmin(RecordAdmin):
    """A participant's scored wave: evidence, shown and never edited."""

    study_path = "participant__link__study"
    list_display = [
        "participant",
        "wave",
        "value",
        "angle",
        "category",
        "value_rationality",
        "straight_lined",
        "too_fast",
    ]
    list_filter = ["wave", "value", "category", "straight_lined", "too_fast", "transitive"]
    readonly_fields = [f.name for f in SvoResponseSet._meta.fields]
    inlines = [SvoItemAnswerInline]
