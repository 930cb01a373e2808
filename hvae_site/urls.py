from __future__ import annotations

from django.contrib import admin
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from annotation import api as annotation_api
from annotation import participant_api, participant_views
from annotation import views as annotation_views
from evaluation import access
from evaluation import api as evaluation_api
from evaluation import views as evaluation_views
from stats import api as stats_api
from stats import views as stats_views


def health(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok", "database": connection.vendor})


RESEARCHERS = [access.IsResearcher]

api_v1 = [
    # The schema and docs are part of the API: researchers only, like every other /api/v1/ path.
    path("schema/", SpectacularAPIView.as_view(permission_classes=RESEARCHERS), name="schema"),
    path(
        "docs/",
        SpectacularSwaggerView.as_view(url_name="schema", permission_classes=RESEARCHERS),
        name="api-docs",
    ),
    path(
        "redoc/",
        SpectacularRedocView.as_view(url_name="schema", permission_classes=RESEARCHERS),
        name="api-redoc",
    ),
    path("svo/score", evaluation_api.SvoScoreApi.as_view(), name="svo-score"),
    path("studies", evaluation_api.StudyListApi.as_view(), name="study-list"),
    path("studies/<int:pk>", evaluation_api.StudyDetailApi.as_view(), name="study-detail"),
    path("endpoints", evaluation_api.EndpointListApi.as_view(), name="endpoint-list"),
    path("runs", evaluation_api.RunListApi.as_view(), name="run-list"),
    path("runs/<int:pk>", evaluation_api.RunDetailApi.as_view(), name="run-detail"),
    path("runs/<int:pk>/cancel", evaluation_api.RunCancelApi.as_view(), name="run-cancel"),
    path("trials", evaluation_api.TrialListApi.as_view(), name="trial-list"),
    path("trials/<int:pk>", evaluation_api.TrialDetailApi.as_view(), name="trial-detail"),
    path("batches", annotation_api.BatchListApi.as_view(), name="batch-list"),
    path("raters", annotation_api.RaterListApi.as_view(), name="rater-list"),
    path("judgments", annotation_api.JudgmentListApi.as_view(), name="judgment-list"),
    path("svo-links", participant_api.SvoLinkListApi.as_view(), name="svo-link-list"),
    path("participants", participant_api.ParticipantListApi.as_view(), name="participant-list"),
    path("participants/<int:pk>", participant_api.ParticipantDetailApi.as_view(), name="participant-detail"),
    path("studies/<int:pk>/report", stats_api.StudyReportApi.as_view(), name="study-report"),
    path("stats/agreement", stats_api.AgreementCalculatorApi.as_view(), name="stats-agreement"),
]

rater_pages = [
    path("join/<str:token>/", annotation_views.join, name="rater-join"),
    path("join/<str:token>/instructions", annotation_views.instructions, name="rater-instructions"),
    path("join/<str:token>/start", annotation_views.start, name="rater-start"),
    path("progress", annotation_views.progress, name="rater-progress"),
    path("label-studio", annotation_views.label_studio, name="rater-label-studio"),
]

urlpatterns = [
    path("", evaluation_views.study_list, name="study-list-page"),
    path("studies/<int:pk>/", stats_views.study_page, name="study-page"),
    path("studies/<int:pk>/report.json", stats_views.report_json, name="study-report-json"),
    path("studies/<int:pk>/tables/<str:table>.csv", stats_views.report_table_csv, name="study-report-table"),
    path("studies/<int:pk>/data/<str:table>.<str:fmt>", stats_views.raw_data, name="study-raw-data"),
    path("studies/<int:pk>/svo-responses.<str:fmt>", participant_views.export, name="svo-responses-export"),
    path("runs/<int:pk>/", evaluation_views.run_page, name="run-page"),
    path("runs/<int:pk>/progress", evaluation_views.run_progress, name="run-progress"),
    path("runs/<int:pk>/cancel", evaluation_views.run_cancel, name="run-cancel-page"),
    path("trials/<int:pk>/", evaluation_views.trial_page, name="trial-page"),
    path("health", health, name="health"),
    path("annotation/webhook", annotation_views.webhook, name="labelstudio-webhook"),
    path("r/", include(rater_pages)),
    path("p/", include("annotation.participant_urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
]
