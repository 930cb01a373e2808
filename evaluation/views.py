"""Researcher pages: studies, a run's live progress, a trial's transcript. Model output is untrusted text and
is only ever rendered through Django's auto-escaping."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render

from evaluation import selectors
from evaluation.models import EvaluationRun, Study, Trial


@login_required
def study_list(request: HttpRequest) -> HttpResponse:
    return render(request, "evaluation/study_list.html", {"studies": Study.objects.all()})


@login_required
def run_page(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(EvaluationRun.objects.select_related("study", "endpoint"), pk=pk)
    trials = run.trials.order_by("index")
    context = {"run": run, "progress": selectors.run_progress(run=run), "trials": trials}
    return render(request, "evaluation/run.html", context)


@login_required
def run_progress(request: HttpRequest, pk: int) -> JsonResponse:
    run = get_object_or_404(EvaluationRun, pk=pk)
    return JsonResponse({"status": run.status, **selectors.run_progress(run=run)})


@login_required
def trial_page(request: HttpRequest, pk: int) -> HttpResponse:
    trial = get_object_or_404(Trial.objects.select_related("run", "run__study"), pk=pk)
    context = {
        "trial": trial,
        "responses": trial.responses.order_by("item"),
        "calls": trial.calls.order_by("created_at", "id"),
    }
    return render(request, "evaluation/trial.html", context)
