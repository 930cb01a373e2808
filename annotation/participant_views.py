"""Pages for people taking the SVO slider (link → consent → instructions [→ value description] → sliders →
completion code, and the retest), plus the researchers' export of the responses.

The items page posts one field per item, ``item_<n>``, holding the Murphy option 1-9 of the chosen stop
whatever the display direction, and optionally ``time_<n>``, the seconds after the page opened of that
slider's last change (set by the page's script). Views parse, call one service or selector, and respond.
"""

from __future__ import annotations

import csv
import io
import math
import secrets
import time
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from annotation import participant_selectors as selectors
from annotation import participant_services as services
from annotation.models import Participant, SvoLink
from evaluation import access, prompts
from hvae_site.api import DomainError
from hvae_site.spreadsheet import csv_safe_cell

SESSION_PARTICIPANT = "hvae_svo_participant"
SESSION_PLATFORM = "hvae_svo_platform"
SESSION_SERVED = "hvae_svo_served"
PLATFORM_FIELD = 200
MAX_PAGE_SECONDS = 24 * 3600.0


# --- Who is taking part ---------------------------------------------------------------------------------------


def _platform(request: HttpRequest, link: SvoLink) -> dict[str, Any]:
    """Crowd-platform ids from the link (Prolific's PROLIFIC_PID, STUDY_ID, SESSION_ID), kept in the session;
    a visitor without them gets an id of our own that stays theirs for the session."""
    platform: dict[str, Any] = request.session.get(SESSION_PLATFORM) or {}
    given = request.GET.get("PROLIFIC_PID", "").strip()[:PLATFORM_FIELD]
    if platform.get("link") != link.pk or (given and given != platform.get("participant_id")):
        platform = {
            "link": link.pk,
            "participant_id": given or f"web-{secrets.token_hex(6)}",
            "study_id": request.GET.get("STUDY_ID", "").strip()[:PLATFORM_FIELD],
            "session_id": request.GET.get("SESSION_ID", "").strip()[:PLATFORM_FIELD],
        }
        request.session[SESSION_PLATFORM] = platform
    return platform


def _session_participant(request: HttpRequest) -> Participant | None:
    pk = request.session.get(SESSION_PARTICIPANT)
    if not isinstance(pk, int):
        return None
    return Participant.objects.select_related("link__study").filter(pk=pk).first()


def _open_link(request: HttpRequest, token: str) -> SvoLink | HttpResponse:
    link = selectors.svo_link_from_token(token=token)
    if link is None:
        return render(request, "annotation/invite_invalid.html", {"reason": "invalid"}, status=404)
    return link


def _link_participant(request: HttpRequest, token: str) -> Participant | HttpResponse:
    """The consented participant of this browser session on this link, or where they must go instead."""
    link = _open_link(request, token)
    if isinstance(link, HttpResponse):
        return link
    participant = _session_participant(request)
    if participant is None or participant.link_id != link.pk:
        return HttpResponseRedirect(reverse("svo-join", kwargs={"token": token}))
    return participant


def _refused(request: HttpRequest, reason: str, status: int = 403) -> HttpResponse:
    return render(request, "annotation/svo_closed.html", {"reason": reason}, status=status)


# --- Wave 1 ---------------------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def join(request: HttpRequest, token: str) -> HttpResponse:
    """Landing page of a participant link: records the crowd-platform ids, then asks for consent."""
    link = _open_link(request, token)
    if isinstance(link, HttpResponse):
        return link
    platform = _platform(request, link)
    current = _session_participant(request)
    if (
        current is not None
        and current.link_id == link.pk
        and current.participant_id == platform["participant_id"]
    ):
        return HttpResponseRedirect(_next_step(current, token))
    items = selectors.administered_items(link=link)
    context = {"link": link, "study": link.study, "token": token, "n_items": len(items)}
    if request.method == "POST":
        if request.POST.get("consent") != "yes":
            return render(request, "annotation/svo_consent.html", {**context, "declined": True})
        try:
            participant, _ = services.participant_join(
                link=link,
                participant_id=platform["participant_id"],
                platform_study_id=platform["study_id"],
                platform_session_id=platform["session_id"],
            )
        except services.LinkFull:
            return _refused(request, "full", status=410)
        request.session[SESSION_PARTICIPANT] = participant.pk
        return HttpResponseRedirect(_next_step(participant, token))
    return render(request, "annotation/svo_consent.html", context)


def _next_step(participant: Participant, token: str) -> str:
    if selectors.response_set(participant=participant, wave=1) is not None:
        return reverse("svo-done")
    return reverse("svo-instructions", kwargs={"token": token})


def _induction(participant: Participant) -> dict[str, str] | None:
    """The value description the models are given, for a participant asked to decide as such a person."""
    value = participant.assigned_value
    if not value:
        return None
    article = "an" if value[0] in "aeiou" else "a"
    return {"value": value, "a_value": f"{article} {value}", "definition": prompts.VALUE_DEFINITIONS[value]}


@require_GET
def instructions(request: HttpRequest, token: str) -> HttpResponse:
    participant = _link_participant(request, token)
    if isinstance(participant, HttpResponse):
        return participant
    if selectors.response_set(participant=participant, wave=1) is not None:
        return HttpResponseRedirect(reverse("svo-done"))
    context = {
        "participant": participant,
        "study": participant.link.study,
        "induction": _induction(participant),
        "n_items": len(selectors.administered_items(link=participant.link)),
        "items_url": reverse("svo-items", kwargs={"token": token}),
    }
    return render(request, "annotation/svo_instructions.html", context)


@require_http_methods(["GET", "POST"])
def items(request: HttpRequest, token: str) -> HttpResponse:
    participant = _link_participant(request, token)
    if isinstance(participant, HttpResponse):
        return participant
    if request.method == "GET" and selectors.response_set(participant=participant, wave=1) is not None:
        return HttpResponseRedirect(reverse("svo-done"))
    return _items_page(request, participant, 1, reverse("svo-items", kwargs={"token": token}))


# --- The items page, for either wave ------------------------------------------------------------------------


def parse_answers(data: QueryDict, numbers: list[int]) -> tuple[services.Submission, dict[str, str]]:
    """The posted answers and times, and an error per field that is missing, repeated or out of range."""
    errors: dict[str, str] = {}
    options: dict[int, int] = {}
    changed_at: dict[int, float] = {}
    expected = set(numbers)
    for key in data:
        if key.startswith(("item_", "time_")):
            suffix = key.split("_", 1)[1]
            if not suffix.isdigit() or int(suffix) not in expected:
                errors[key] = f"{key} is not an item on this page."
    for number in numbers:
        name = f"item_{number}"
        given = data.getlist(name)
        if not given:
            errors[name] = "No answer was given."
        elif len(given) > 1:
            errors[name] = "More than one answer was given."
        elif not given[0].strip().isdigit() or not 1 <= int(given[0].strip()) <= 9:
            errors[name] = f"The answer must be a stop from 1 to 9, got {given[0][:20]!r}."
        else:
            options[number] = int(given[0].strip())
        name = f"time_{number}"
        times = [value for value in data.getlist(name) if value.strip()]
        if len(times) > 1:
            errors[name] = "More than one time was given."
        elif times:
            try:
                seconds = float(times[0])
            except ValueError:
                seconds = math.nan
            if not math.isfinite(seconds) or not 0 <= seconds <= services.MAX_ITEM_SECONDS:
                errors[name] = (
                    f"The time must be a number of seconds from 0 to {services.MAX_ITEM_SECONDS:.0f}."
                )
            else:
                changed_at[number] = seconds
    return services.Submission(options=options, changed_at=changed_at), errors


def _served_key(participant: Participant, wave: int) -> str:
    return f"{participant.pk}:{wave}"


def _page_seconds(request: HttpRequest, participant: Participant, wave: int) -> float | None:
    served = (request.session.get(SESSION_SERVED) or {}).get(_served_key(participant, wave))
    if not isinstance(served, int | float):
        return None
    seconds = time.time() - served
    return seconds if 0 <= seconds <= MAX_PAGE_SECONDS else None


def _rows(
    sliders: list[selectors.SliderItem], errors: dict[str, str]
) -> list[tuple[selectors.SliderItem, str]]:
    return [(s, errors.get(f"item_{s.number}") or errors.get(f"time_{s.number}") or "") for s in sliders]


def _items_page(request: HttpRequest, participant: Participant, wave: int, action: str) -> HttpResponse:
    numbers = selectors.item_order(participant=participant, wave=wave)
    context: dict[str, Any] = {
        "participant": participant,
        "study": participant.link.study,
        "wave": wave,
        "action": action,
        "induction": _induction(participant),
    }
    if request.method == "GET":
        served = dict(request.session.get(SESSION_SERVED) or {})
        served[_served_key(participant, wave)] = time.time()
        request.session[SESSION_SERVED] = served
        sliders = selectors.slider_items(participant=participant, wave=wave)
        return render(request, "annotation/svo_items.html", {**context, "rows": _rows(sliders, {})})
    parsed, errors = parse_answers(request.POST, numbers)
    status = 400
    if not errors:
        submission = services.Submission(
            options=parsed.options,
            changed_at=parsed.changed_at,
            page_seconds=_page_seconds(request, participant, wave),
        )
        try:
            services.svo_responses_submit(participant=participant, wave=wave, submission=submission)
        except services.AlreadySubmitted as exc:
            errors, status = {"form": exc.message}, 409
        except DomainError as exc:
            errors = {exc.field or "form": exc.message}
        else:
            return HttpResponseRedirect(reverse("svo-done"))
    sliders = selectors.slider_items(participant=participant, wave=wave, values=parsed.options)
    return render(
        request,
        "annotation/svo_items.html",
        {**context, "rows": _rows(sliders, errors), "error_list": sorted(errors.items())},
        status=status,
    )


# --- Completion and the retest ------------------------------------------------------------------------------


@require_GET
def done(request: HttpRequest) -> HttpResponse:
    """The participant's own page: the completion code and return link, and their retest when there is one."""
    participant = _session_participant(request)
    if participant is None:
        return render(request, "annotation/invite_invalid.html", {"reason": "no-session"}, status=403)
    first = selectors.response_set(participant=participant, wave=1)
    second = selectors.response_set(participant=participant, wave=selectors.RETEST_WAVE)
    opens = selectors.retest_opens_at(participant=participant)
    context = {
        "participant": participant,
        "study": participant.link.study,
        "first": first,
        "second": second,
        "completion": selectors.completion(study=participant.link.study) if first else None,
        "retest_opens_at": opens,
        "retest_open": opens is not None and opens <= timezone.now(),
        "retest_url": selectors.retest_url(participant=participant) if opens and not second else "",
        "join_url": reverse("svo-join", kwargs={"token": selectors.svo_link_token(link=participant.link)}),
    }
    return render(request, "annotation/svo_done.html", context)


def _retest_participant(request: HttpRequest, token: str) -> Participant | HttpResponse:
    """The participant a retest link was given to, when this browser session is theirs: the session of their
    first wave, or a new session opened from the crowd platform with their PROLIFIC_PID. Anyone else is refused."""
    owner = selectors.participant_from_retest(token=token)
    if owner is None or owner.link.retest_after_hours is None:
        return render(request, "annotation/invite_invalid.html", {"reason": "invalid"}, status=404)
    current = _session_participant(request)
    given = request.GET.get("PROLIFIC_PID", "").strip()[:PLATFORM_FIELD]
    if current is not None and current.pk != owner.pk:
        return _refused(request, "not-yours")
    if given and given != owner.participant_id:
        return _refused(request, "not-yours")
    if current is None and not given:
        return _refused(request, "other-browser")
    request.session[SESSION_PARTICIPANT] = owner.pk
    if selectors.response_set(participant=owner, wave=1) is None:
        return _refused(request, "no-first-wave")
    return owner


@require_GET
def retest(request: HttpRequest, token: str) -> HttpResponse:
    participant = _retest_participant(request, token)
    if isinstance(participant, HttpResponse):
        return participant
    if selectors.response_set(participant=participant, wave=selectors.RETEST_WAVE) is not None:
        return HttpResponseRedirect(reverse("svo-done"))
    opens = selectors.retest_opens_at(participant=participant)
    context = {
        "participant": participant,
        "study": participant.link.study,
        "opens_at": opens,
        "open": opens is not None and opens <= timezone.now(),
        "induction": _induction(participant),
        "items_url": reverse("svo-retest-items", kwargs={"token": token}),
    }
    return render(request, "annotation/svo_retest.html", context)


@require_http_methods(["GET", "POST"])
def retest_items(request: HttpRequest, token: str) -> HttpResponse:
    participant = _retest_participant(request, token)
    if isinstance(participant, HttpResponse):
        return participant
    opens = selectors.retest_opens_at(participant=participant)
    if opens is None or opens > timezone.now():
        return HttpResponseRedirect(reverse("svo-retest", kwargs={"token": token}))
    wave = selectors.RETEST_WAVE
    if request.method == "GET" and selectors.response_set(participant=participant, wave=wave) is not None:
        return HttpResponseRedirect(reverse("svo-done"))
    return _items_page(request, participant, wave, reverse("svo-retest-items", kwargs={"token": token}))


# --- Researchers: export ------------------------------------------------------------------------------------


@access.researcher_required
@require_GET
def export(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    """Every item answer of the study's participants with its scores and flags, as CSV or JSON."""
    study = access.study_for(request.user, pk)
    rows = selectors.response_export_rows(study=study)
    if fmt == "json":
        return JsonResponse({"study": study.pk, "columns": list(selectors.EXPORT_COLUMNS), "rows": rows})
    if fmt != "csv":
        return HttpResponse("Formats: csv or json.", status=404, content_type="text/plain")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(selectors.EXPORT_COLUMNS))
    writer.writeheader()
    writer.writerows({key: csv_safe_cell(value) for key, value in row.items()} for row in rows)
    response = HttpResponse(buffer.getvalue(), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="study-{study.pk}-svo-responses.csv"'
    return response
