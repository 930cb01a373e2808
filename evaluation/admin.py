"""Admin pages for study management: create studies and endpoints, browse runs and trials, read transcripts."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import get_fields_from_path
from django.contrib.auth import get_user_model
from django.db.models import Model, QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from evaluation import access, jobs, services
from evaluation.models import (
    EvaluationRun,
    ItemResponse,
    LLMCall,
    ModelEndpoint,
    PromptTemplate,
    Study,
    StudyMember,
    Trial,
)


def study_of(obj: Model, path: str) -> Study:
    """The study an object belongs to, following ``path`` (``run__study``); the object itself for ``""``."""
    for attribute in path.split("__") if path else []:
        obj = getattr(obj, attribute)
    assert isinstance(obj, Study)
    return obj


class StudyScopedAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Lists and forms show only what belongs to the studies the user may see (``evaluation.access``); changing
    or deleting an object needs write access to its study. ``study_path`` leads from the model to its study."""

    study_path = "study"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)
        lookup = f"{self.study_path}__in" if self.study_path else "pk__in"
        return queryset.filter(**{lookup: access.studies_visible_to(request.user).values("pk")})

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return access.is_researcher(request.user) and super().has_view_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        allowed = access.is_researcher(request.user) and super().has_change_permission(request, obj)
        return allowed and (obj is None or access.can_write(request.user, study_of(obj, self.study_path)))

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        allowed = access.is_researcher(request.user) and super().has_delete_permission(request, obj)
        return allowed and (obj is None or access.can_write(request.user, study_of(obj, self.study_path)))

    def get_list_filter(self, request: HttpRequest) -> Any:
        # A filter on a relation lists only related objects present in the (scoped) list, never all studies.
        return [
            (spec, admin.RelatedOnlyFieldListFilter)
            if isinstance(spec, str) and get_fields_from_path(self.model, spec)[-1].is_relation
            else spec
            for spec in super().get_list_filter(request)
        ]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        # A form may only attach an object to a study the user may change.
        if db_field.related_model is Study:
            kwargs["queryset"] = access.studies_writable_by(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ReadOnlyInline(admin.TabularInline):  # type: ignore[type-arg]
    extra = 0
    can_delete = False
    show_change_link = True

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        # Shown, not edited: listing a non-editable field (created_at) as a form field is an error.
        return [str(field) for field in self.fields or []]

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class RecordAdmin(StudyScopedAdmin):
    """What the pipeline recorded is evidence: shown, never added, edited or deleted by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class RunInline(ReadOnlyInline):
    model = EvaluationRun
    fields = ["model", "value", "strategy", "n_trials", "status", "created_at"]


class StudyMemberInline(admin.TabularInline):  # type: ignore[type-arg]
    """Collaborators: viewers read the study; editors also change it."""

    model = StudyMember
    extra = 0
    fields = ["user", "role"]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "user":  # collaborators are researchers
            kwargs["queryset"] = get_user_model().objects.filter(groups__name=access.RESEARCHERS_GROUP)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def _may_edit(self, request: HttpRequest, obj: Any) -> bool:
        return obj is None or access.can_write(request.user, obj)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_add_permission(request, obj) and self._may_edit(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and self._may_edit(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) and self._may_edit(request, obj)


@admin.register(Study)
class StudyAdmin(StudyScopedAdmin):
    list_display = ["name", "owner", "created_at", "run_count"]
    search_fields = ["name", "description"]
    inlines = [StudyMemberInline, RunInline]
    study_path = ""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return access.is_researcher(request.user) and super().has_add_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Deleting a study deletes its runs and judgments: its owner's decision (or a superuser's).
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or request.user.is_superuser or obj.owner_id == request.user.pk)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [] if request.user.is_superuser else ["owner"]

    def save_model(self, request: HttpRequest, obj: Study, form: ModelForm[Study], change: bool) -> None:
        if not change and obj.owner_id is None:
            obj.owner = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)

    @admin.display(description="runs")
    def run_count(self, study: Study) -> int:
        return study.runs.count()


@admin.register(ModelEndpoint)
class ModelEndpointAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """A researcher sees their own endpoints and the shared ones, and changes only their own; only a superuser
    shares an endpoint or hands it to someone else."""

    list_display = [
        "name",
        "base_url",
        "api_key_env",
        "max_concurrency",
        "requests_per_minute",
        "is_reference",
        "owner",
        "shared",
    ]
    search_fields = ["name", "base_url"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ModelEndpoint]:
        return access.endpoints_usable_by(request.user)

    def _own(self, request: HttpRequest, obj: ModelEndpoint | None) -> bool:
        return obj is None or request.user.is_superuser or obj.owner_id == request.user.pk

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return access.is_researcher(request.user) and super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return access.is_researcher(request.user) and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        allowed = access.is_researcher(request.user) and super().has_change_permission(request, obj)
        return allowed and self._own(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        allowed = access.is_researcher(request.user) and super().has_delete_permission(request, obj)
        return allowed and self._own(request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [] if request.user.is_superuser else ["owner", "shared"]

    def save_model(
        self, request: HttpRequest, obj: ModelEndpoint, form: ModelForm[ModelEndpoint], change: bool
    ) -> None:
        if not change and obj.owner_id is None:
            obj.owner = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)


@admin.register(PromptTemplate)
class PromptTemplateAdmin(RecordAdmin):
    """Template versions are immutable: a changed text in ``evaluation/prompts.py`` becomes a new version.
    They belong to no study: every researcher reads them."""

    def get_queryset(self, request: HttpRequest) -> QuerySet[PromptTemplate]:
        queryset = admin.ModelAdmin.get_queryset(self, request)
        return queryset if access.is_researcher(request.user) else queryset.none()

    list_display = ["name", "version", "content_hash", "created_at"]
    list_filter = ["name"]
    readonly_fields = ["content_hash", "created_at"]


class TrialInline(ReadOnlyInline):
    model = Trial
    fields = ["index", "status", "angle", "category", "value_rationality", "category_hit", "failure_reason"]


@admin.register(EvaluationRun)
class EvaluationRunAdmin(RecordAdmin):
    """Runs are started with ``run_evaluation`` or the API, which create their trials; here they are browsed,
    cancelled and resumed."""

    list_display = ["id", "study", "model", "value", "strategy", "n_trials", "status", "created_at"]
    list_filter = ["status", "value", "strategy", "study"]
    search_fields = ["model", "study__name"]
    readonly_fields = [
        "prompt_versions",
        "definitions_version",
        "prompt_tokens",
        "completion_tokens",
        "cost",
        "started_at",
        "finished_at",
        "error",
    ]
    inlines = [TrialInline]
    actions = ["cancel_runs", "resume_runs"]

    def has_control_permission(self, request: HttpRequest) -> bool:
        """Cancelling and resuming runs: the model's change permission (which view-only staff lack) and editor
        rights on some study; each action then acts only on runs of studies the user may change."""
        user = request.user
        return bool(
            user.has_perm("evaluation.change_evaluationrun")
            and access.is_researcher(user)
            and access.studies_writable_by(user).exists()
        )

    def _controllable(
        self, request: HttpRequest, queryset: QuerySet[EvaluationRun]
    ) -> QuerySet[EvaluationRun]:
        allowed = queryset.filter(study__in=access.studies_writable_by(request.user).values("pk"))
        skipped = queryset.count() - allowed.count()
        if skipped:
            self.message_user(
                request, f"{skipped} run(s) skipped: you may only read their studies.", "warning"
            )
        return allowed

    @admin.action(description="Cancel the selected runs (finished trials are kept)", permissions=["control"])
    def cancel_runs(self, request: HttpRequest, queryset: QuerySet[EvaluationRun]) -> None:
        cancelled = 0
        for run in self._controllable(request, queryset):
            if not run.is_finished:
                services.evaluation_run_cancel(run=run)
                cancelled += 1
        self.message_user(request, f"{cancelled} run(s) cancelled.")

    @admin.action(description="Resume the selected runs (pending trials only)", permissions=["control"])
    def resume_runs(self, request: HttpRequest, queryset: QuerySet[EvaluationRun]) -> None:
        queryset = self._controllable(request, queryset)
        run_ids = [run.pk for run in queryset if run.status != EvaluationRun.Status.COMPLETED]
        if run_ids:
            where = jobs.start_runs(run_ids)
            self.message_user(request, f"{len(run_ids)} run(s) resumed ({where}).")
        else:
            self.message_user(request, "Completed runs have nothing left to run.")


class ItemResponseInline(ReadOnlyInline):
    model = ItemResponse
    fields = [
        "item",
        "presented_order",
        "raw_text",
        "extracted_option",
        "extraction_method",
        "payoff_self",
        "payoff_other",
    ]


@admin.register(Trial)
class TrialAdmin(RecordAdmin):
    study_path = "run__study"
    list_display = ["id", "run", "index", "status", "angle", "category", "value_rationality", "category_hit"]
    list_filter = ["status", "run__value", "run__strategy", "run__study"]
    search_fields = ["run__model"]
    exclude = ["transcript"]
    readonly_fields = ["conversation"]
    inlines = [ItemResponseInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Trial]:
        return super().get_queryset(request).select_related("run")

    @admin.display(description="transcript")
    def conversation(self, trial: Trial) -> SafeString:
        # Model output is untrusted text: format_html escapes every message.
        rows = format_html_join(
            "",
            '<div style="margin:.4em 0"><strong>{}</strong><pre style="white-space:pre-wrap">{}</pre></div>',
            ((message.get("role", "?"), message.get("content", "")) for message in trial.transcript),
        )
        return format_html("<div>{}</div>", rows)


@admin.register(LLMCall)
class LLMCallAdmin(RecordAdmin):
    study_path = "run__study"
    list_display = [
        "id",
        "run",
        "trial",
        "purpose",
        "attempt",
        "http_status",
        "latency_ms",
        "returned_model",
        "error",
    ]
    list_filter = ["purpose", "http_status"]
    search_fields = ["returned_model", "error"]
