"""Admin pages for study management: create studies and endpoints, browse runs and trials, read transcripts."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from evaluation import jobs, services
from evaluation.models import (
    EvaluationRun,
    ItemResponse,
    LLMCall,
    ModelEndpoint,
    PromptTemplate,
    Study,
    Trial,
)


class ReadOnlyInline(admin.TabularInline):  # type: ignore[type-arg]
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class RecordAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
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


@admin.register(Study)
class StudyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "created_at", "run_count"]
    search_fields = ["name", "description"]
    inlines = [RunInline]

    @admin.display(description="runs")
    def run_count(self, study: Study) -> int:
        return study.runs.count()


@admin.register(ModelEndpoint)
class ModelEndpointAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = [
        "name",
        "base_url",
        "api_key_env",
        "max_concurrency",
        "requests_per_minute",
        "is_reference",
    ]
    search_fields = ["name", "base_url"]


@admin.register(PromptTemplate)
class PromptTemplateAdmin(RecordAdmin):
    """Template versions are immutable: a changed text in ``evaluation/prompts.py`` becomes a new version."""

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

    @admin.action(description="Cancel the selected runs (finished trials are kept)")
    def cancel_runs(self, request: HttpRequest, queryset: QuerySet[EvaluationRun]) -> None:
        cancelled = 0
        for run in queryset:
            if not run.is_finished:
                services.evaluation_run_cancel(run=run)
                cancelled += 1
        self.message_user(request, f"{cancelled} run(s) cancelled.")

    @admin.action(description="Resume the selected runs (pending trials only)")
    def resume_runs(self, request: HttpRequest, queryset: QuerySet[EvaluationRun]) -> None:
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
