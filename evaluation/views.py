"""Researcher pages: studies, a run's live progress, a trial's transcript. Model output is untrusted text and
is only ever rendered through Django's auto-escaping."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from evaluation import access, selectors, services
from evaluation.access import researcher_required
from hvae_site.api import DomainError


@researcher_required
def study_list(request: HttpRequest) -> HttpResponse:
    studies = access.studies_visible_to(request.user)
    return render(request, "evaluation/study_list.html", {"studies": studies})


@researcher_required
def run_page(request: HttpRequest, pk: int) -> HttpResponse:
    run = access.run_for(request.user, pk)
    trials = run.trials.order_by("index")
    context = {
        "run": run,
        "progress": selectors.run_progress(run=run),
        "trials": trials,
        "can_write": access.can_write(request.user, run.study),
    }
    return render(request, "evaluation/run.html", context)


@researcher_required
@require_POST
def run_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    run = access.run_for(request.user, pk, write=True)
    try:
        services.evaluation_run_cancel(run=run)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Run {run.pk} cancelled; its finished trials are kept.")
    return redirect("run-page", pk=run.pk)


@researcher_required
def run_progress(request: HttpRequest, pk: int) -> JsonResponse:
    run = access.run_for(request.user, pk)
    return JsonResponse({"status": run.status, **selectors.run_progress(run=run)})


@researcher_required
def trial_page(request: HttpRequest, pk: int) -> HttpResponse:
    trial = get_object_or_404(
        access.trials_visible_to(request.user).select_related("run", "run__study"), pk=pk
    )
    context = {
        "trial": trial,
        "responses": trial.responses.order_by("item"),
        "calls": trial.calls.order_by("created_at", "id"),
    }
    return render(request, "evaluation/trial.html", context)
