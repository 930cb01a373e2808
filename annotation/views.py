"""Rater pages (invite → consent → instructions → Label Studio account → progress and completion code) and the
Label Studio webhook. Views parse, call one service or selector, and respond; every text a rater or a model
wrote is rendered escaped by the templates.

A rater is whoever holds the browser session that joined: the session is bound to the rater when they consent,
and every later page (instructions, progress, completion code, the way into Label Studio) is shown only to that
session. A participant id is taken once per batch; the same id from another browser is told so and gets
nothing of the rater's. Raters never see their Label Studio account: the service signs them in and hands
Label Studio's session cookie to their browser (``label_studio``)."""

from __future__ import annotations

import hmac
import json
import logging
import secrets
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.http.request import split_domain_port
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from annotation import selectors, services
from annotation.labelstudio import SESSION_COOKIE as LABEL_STUDIO_SESSION_COOKIE
from annotation.labelstudio import LabelStudioError, PayloadError
from annotation.models import AnnotationBatch, Rater
from hvae_site.api import DomainError

logger = logging.getLogger(__name__)

SESSION_RATER = "hvae_rater_id"
SESSION_PARTICIPANT = "hvae_participant"
PLATFORM_FIELD = 200


def _open_batch(request: HttpRequest, token: str) -> AnnotationBatch | HttpResponse:
    """The batch of a valid, unexpired invite link, or the page that says why the link cannot be used."""
    batch = selectors.batch_from_invite(token=token)
    if batch is None:
        return render(request, "annotation/invite_invalid.html", {"reason": "invalid"}, status=404)
    if batch.invite_expires_at is not None and batch.invite_expires_at <= timezone.now():
        return render(
            request, "annotation/invite_invalid.html", {"reason": "expired", "batch": batch}, status=410
        )
    return batch


def _participant(request: HttpRequest, batch: AnnotationBatch) -> dict[str, Any]:
    """Crowd-platform ids from the link (Prolific's PROLIFIC_PID, STUDY_ID, SESSION_ID), kept in the session;
    a visitor without them gets an id of our own that stays theirs for the session."""
    participant: dict[str, Any] = request.session.get(SESSION_PARTICIPANT) or {}
    given = request.GET.get("PROLIFIC_PID", "").strip()[:PLATFORM_FIELD]
    if participant.get("batch") != batch.pk or (given and given != participant.get("participant_id")):
        participant = {
            "batch": batch.pk,
            "participant_id": given or f"web-{secrets.token_hex(6)}",
            "study_id": request.GET.get("STUDY_ID", "").strip()[:PLATFORM_FIELD],
            "session_id": request.GET.get("SESSION_ID", "").strip()[:PLATFORM_FIELD],
        }
        request.session[SESSION_PARTICIPANT] = participant
    return participant


def _current_rater(request: HttpRequest, batch: AnnotationBatch | None = None) -> Rater | None:
    rater_id = request.session.get(SESSION_RATER)
    if not isinstance(rater_id, int):
        return None
    raters = Rater.objects.select_related("batch__study").filter(pk=rater_id, consented_at__isnull=False)
    if batch is not None:
        raters = raters.filter(batch=batch)
    return raters.first()


@require_http_methods(["GET", "POST"])
def join(request: HttpRequest, token: str) -> HttpResponse:
    """Landing page of an invite link: records the crowd-platform ids, then asks for consent."""
    batch = _open_batch(request, token)
    if isinstance(batch, HttpResponse):
        return batch
    participant = _participant(request, batch)
    rater = _current_rater(request, batch)
    if rater is not None and rater.participant_id == participant["participant_id"]:
        return HttpResponseRedirect(reverse("rater-instructions", kwargs={"token": token}))
    if selectors.rater_of_participant(batch=batch, participant_id=participant["participant_id"]) is not None:
        return _participant_in_use(request, batch)
    context = {"batch": batch, "study": batch.study, "token": token}
    if request.method == "POST":
        if request.POST.get("consent") != "yes":
            return render(request, "annotation/consent.html", {**context, "declined": True})
        try:
            rater = services.rater_join(
                batch=batch,
                participant_id=participant["participant_id"],
                platform_study_id=participant["study_id"],
                platform_session_id=participant["session_id"],
            )
        except services.ParticipantInUse:
            return _participant_in_use(request, batch)
        services.rater_consent(rater=rater)
        request.session.cycle_key()  # the rater's session starts here, under a key no one saw before
        request.session[SESSION_RATER] = rater.pk
        return HttpResponseRedirect(reverse("rater-instructions", kwargs={"token": token}))
    return render(request, "annotation/consent.html", context)


def _participant_in_use(request: HttpRequest, batch: AnnotationBatch) -> HttpResponse:
    logger.warning("participant id in use from another browser batch=%s", batch.pk)
    return render(request, "annotation/invite_invalid.html", {"reason": "in-use", "batch": batch}, status=409)


@require_GET
def instructions(request: HttpRequest, token: str) -> HttpResponse:
    batch = _open_batch(request, token)
    if isinstance(batch, HttpResponse):
        return batch
    rater = _current_rater(request, batch)
    if rater is None:
        return HttpResponseRedirect(reverse("rater-join", kwargs={"token": token}))
    return render(request, "annotation/instructions.html", {"batch": batch, "token": token, "rater": rater})


@require_POST
def start(request: HttpRequest, token: str) -> HttpResponse:
    """Provision the rater's Label Studio account (once), then the rater's page with the way in."""
    batch = _open_batch(request, token)
    if isinstance(batch, HttpResponse):
        return batch
    rater = _current_rater(request, batch)
    if rater is None:
        return HttpResponseRedirect(reverse("rater-join", kwargs={"token": token}))
    try:
        services.rater_provision(rater=rater)
    except (DomainError, LabelStudioError) as exc:
        logger.warning("rater provisioning failed rater=%s: %s", rater.pk, exc)
        return render(request, "annotation/unavailable.html", {"message": str(exc)}, status=503)
    return HttpResponseRedirect(reverse("rater-progress"))


@require_GET
def progress(request: HttpRequest) -> HttpResponse:
    """The rater's own page: how to sign in to Label Studio, progress, and at quota the completion code and
    the crowd platform's return link. Only the rater of this browser session is ever shown."""
    rater = _current_rater(request)
    if rater is None:
        return render(request, "annotation/invite_invalid.html", {"reason": "no-session"}, status=403)
    status = selectors.rater_progress(rater=rater)
    context = {
        "rater": rater,
        "status": status,
        "study": rater.batch.study,
        "labeling_ready": rater.label_studio_user_id is not None,
    }
    return render(request, "annotation/progress.html", context)


@require_POST
def label_studio(request: HttpRequest) -> HttpResponse:
    """Sign the session's rater in to Label Studio and send them to their labeling stream: the service signs
    the account in and sets Label Studio's session cookie on the rater's browser for Label Studio's host."""
    rater = _current_rater(request)
    if rater is None:
        return render(request, "annotation/invite_invalid.html", {"reason": "no-session"}, status=403)
    domain = _label_studio_cookie_domain(request)
    if domain is None:
        return render(request, "annotation/unavailable.html", {}, status=503)
    try:
        session = services.rater_label_studio_session(rater=rater)
    except (DomainError, LabelStudioError) as exc:
        logger.warning("label studio sign-in failed rater=%s: %s", rater.pk, exc)
        return render(request, "annotation/unavailable.html", {}, status=503)
    response = HttpResponseRedirect(services.rater_labeling_url(rater=rater))
    response.set_cookie(
        session.cookie_name,
        session.cookie_value,
        domain=domain or None,
        secure=urlsplit(settings.LABEL_STUDIO_URL).scheme == "https",
        httponly=True,
        samesite="Lax",
    )
    return response


def _label_studio_cookie_domain(request: HttpRequest) -> str | None:
    """Where a cookie set by this response reaches Label Studio: "" for this very host (Label Studio on the
    same host name, another port), the configured parent domain, or None (logged) when it cannot."""
    ours, _ = split_domain_port(request.get_host())
    theirs = (urlsplit(settings.LABEL_STUDIO_URL).hostname or "").lower()
    parent = settings.LABEL_STUDIO_COOKIE_DOMAIN.strip().lstrip(".").lower()
    if settings.SESSION_COOKIE_NAME == LABEL_STUDIO_SESSION_COOKIE:
        logger.error(
            "SESSION_COOKIE_NAME is Label Studio's own cookie name: signing in would end our session"
        )
        return None
    if parent:
        if all(host == parent or host.endswith("." + parent) for host in (ours, theirs)):
            return parent
    elif ours and ours == theirs:
        return ""
    logger.error(
        "cannot sign raters in to Label Studio: this host %r and Label Studio's %r share neither a host name "
        "nor LABEL_STUDIO_COOKIE_DOMAIN %r",
        ours,
        theirs,
        parent,
    )
    return None


@csrf_exempt
@require_POST
def webhook(request: HttpRequest) -> HttpResponse:
    """Label Studio's annotation webhooks, authenticated by a shared-secret header (constant-time check)."""
    expected = settings.LABEL_STUDIO_WEBHOOK_SECRET
    given = request.headers.get(services.WEBHOOK_HEADER, "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        logger.warning("webhook refused: missing or wrong secret from %s", request.META.get("REMOTE_ADDR"))
        return JsonResponse({"detail": "missing or wrong webhook secret"}, status=403)
    try:
        payload = json.loads(request.body)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        logger.warning("webhook refused: the body is not JSON")
        return JsonResponse({"detail": "the body is not JSON"}, status=400)
    try:
        changed = services.webhook_handle(payload=payload)
    except PayloadError as exc:
        logger.warning("webhook refused: malformed payload: %s", exc)
        return JsonResponse({"detail": str(exc)}, status=400)
    return JsonResponse({"changed": changed})
