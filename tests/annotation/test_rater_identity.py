"""Raters are who they are: a rater belongs to the browser session that joined, a participant id is taken once,
completion codes are per rater and shown only to that rater's session, and Label Studio credentials never
appear in a page (the service signs the rater in and hands Label Studio's session cookie to the browser)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from annotation import selectors, services
from annotation.models import AnnotationBatch, HumanJudgment, Rater
from tests.annotation.conftest import RecordingLabelStudio


def invite(batch: AnnotationBatch, query: str = "") -> str:
    return reverse("rater-join", kwargs={"token": selectors.invite_token(batch=batch)}) + query


def start(client: Client, batch: AnnotationBatch) -> Any:
    return client.post(reverse("rater-start", kwargs={"token": selectors.invite_token(batch=batch)}))


def join_and_start(client: Client, batch: AnnotationBatch, participant: str) -> Rater:
    client.get(invite(batch, f"?PROLIFIC_PID={participant}"))
    client.post(invite(batch, f"?PROLIFIC_PID={participant}"), {"consent": "yes"})
    assert start(client, batch)["Location"] == reverse("rater-progress")
    return Rater.objects.get(batch=batch, participant_id=participant)


def finish(rater: Rater) -> None:
    """The rater judged their whole quota (as webhooks would have stored it)."""
    for number, task in enumerate(rater.batch.tasks.order_by("id")[: rater.batch.tasks_per_rater], start=1):
        HumanJudgment.objects.create(
            label_studio_annotation_id=1000 * rater.pk + number, task=task, trial=task.trial, rater=rater
        )


@pytest.fixture
def small_batch(batch: AnnotationBatch) -> AnnotationBatch:
    study = batch.study
    study.completion_code = "STUDY-CODE-1"
    study.completion_url = "https://platform.example/submissions/complete"
    study.save()
    batch.tasks_per_rater = 2
    batch.save()
    return batch


def assert_shows_nothing_of(page: str, rater: Rater, code: str) -> None:
    assert rater.email not in page
    assert rater.label_studio_password not in page
    assert code not in page
    assert "STUDY-CODE-1" not in page


def test_the_same_participant_id_from_another_browser_gets_nothing_of_the_rater(
    client: Client, small_batch: AnnotationBatch, fake_label_studio: RecordingLabelStudio
) -> None:
    victim = join_and_start(client, small_batch, "victim-1")
    finish(victim)
    code = selectors.rater_completion_code(rater=victim)
    assert code in client.get(reverse("rater-progress")).content.decode()

    intruder = Client()
    landing = intruder.get(invite(small_batch, "?PROLIFIC_PID=victim-1"))
    consented = intruder.post(invite(small_batch, "?PROLIFIC_PID=victim-1"), {"consent": "yes"})
    started = start(intruder, small_batch)
    progress = intruder.get(reverse("rater-progress"))
    signed_in = intruder.post(reverse("rater-label-studio"))

    for refused in (landing, consented):
        assert refused.status_code == 409
        page = refused.content.decode()
        assert "already taking part in this study from another browser" in page
        assert_shows_nothing_of(page, victim, code)
    assert started.status_code == 302
    assert started["Location"] == invite(small_batch)
    assert progress.status_code == signed_in.status_code == 403
    for response in (started, progress, signed_in):
        assert_shows_nothing_of(response.content.decode(), victim, code)
        assert "sessionid" not in response.cookies
    assert Rater.objects.count() == 1
    assert fake_label_studio.sign_ins == []


def test_the_raters_own_browser_gets_back_in_and_gets_its_code(
    client: Client, small_batch: AnnotationBatch, fake_label_studio: RecordingLabelStudio
) -> None:
    me = join_and_start(client, small_batch, "me-1")
    finish(me)

    back = client.get(invite(small_batch, "?PROLIFIC_PID=me-1"))
    again = start(client, small_batch)
    page = client.get(reverse("rater-progress")).content.decode()

    assert back.status_code == 302
    assert back["Location"].endswith("/instructions")
    assert again["Location"] == reverse("rater-progress")
    code = selectors.rater_completion_code(rater=me)
    assert f'<span class="code" id="completion-code">{code}</span>' in page
    assert "https://platform.example/submissions/complete?cc=STUDY-CODE-1" in page
    assert fake_label_studio.calls == [me.email]


def test_completion_codes_are_per_rater_and_none_is_the_studys(small_batch: AnnotationBatch) -> None:
    raters = [services.rater_join(batch=small_batch, participant_id=f"p-{n}") for n in range(20)]

    codes = [selectors.rater_completion_code(rater=rater) for rater in raters]

    assert len(set(codes)) == 20
    assert all(len(code) == 10 and code.isalnum() and code.isupper() for code in codes)
    assert "STUDY-CODE-1" not in codes
    assert selectors.rater_completion_code(rater=raters[0]) == codes[0]  # stable: the researcher can check it


def test_researchers_see_each_raters_code_to_check_submissions(
    api_client: Any, small_batch: AnnotationBatch
) -> None:
    rater = services.rater_join(batch=small_batch, participant_id="p-api")

    listed = api_client.get("/api/v1/raters").json()["results"]

    assert [(r["participant_id"], r["completion_code"]) for r in listed] == [
        ("p-api", selectors.rater_completion_code(rater=rater))
    ]


def test_a_participant_id_is_taken_once(small_batch: AnnotationBatch) -> None:
    services.rater_join(batch=small_batch, participant_id="once")
    with pytest.raises(services.ParticipantInUse):
        services.rater_join(batch=small_batch, participant_id="once")
    assert Rater.objects.count() == 1


def test_a_new_participant_id_from_a_new_browser_is_a_new_rater(
    client: Client, small_batch: AnnotationBatch, fake_label_studio: RecordingLabelStudio
) -> None:
    join_and_start(client, small_batch, "pid-a")
    other = Client()
    join_and_start(other, small_batch, "pid-b")

    assert Rater.objects.count() == 2
    assert '<span id="participant">pid-b</span>' in other.get(reverse("rater-progress")).content.decode()
    assert '<span id="participant">pid-a</span>' in client.get(reverse("rater-progress")).content.decode()


def test_joining_starts_a_session_under_a_new_key(client: Client, small_batch: AnnotationBatch) -> None:
    client.get(invite(small_batch, "?PROLIFIC_PID=fixed"))
    before = client.session.session_key

    client.post(invite(small_batch, "?PROLIFIC_PID=fixed"), {"consent": "yes"})

    assert client.session.session_key != before


def test_no_rater_page_ever_shows_the_label_studio_email_or_password(
    client: Client, small_batch: AnnotationBatch, fake_label_studio: RecordingLabelStudio, settings: Any
) -> None:
    settings.LABEL_STUDIO_URL = "http://testserver:8080"
    token = selectors.invite_token(batch=small_batch)
    pages = [
        client.get(invite(small_batch, "?PROLIFIC_PID=quiet")),
        client.post(invite(small_batch, "?PROLIFIC_PID=quiet"), {"consent": "yes"}),
        client.get(reverse("rater-instructions", kwargs={"token": token})),
        start(client, small_batch),
        client.get(reverse("rater-progress")),
        client.post(reverse("rater-label-studio")),
    ]
    rater = Rater.objects.get()
    finish(rater)
    pages.append(client.get(reverse("rater-progress")))
    pages.append(client.get(invite(small_batch, "?PROLIFIC_PID=quiet"), follow=True))

    assert rater.label_studio_user_id is not None
    assert len(rater.label_studio_password) >= 16
    for response in pages:
        shown = response.content.decode() + " ".join(f"{k}: {v}" for k, v in response.items())
        assert rater.label_studio_password not in shown
        assert rater.email not in shown


def test_opening_label_studio_signs_the_rater_in_on_the_same_host(
    client: Client, small_batch: AnnotationBatch, fake_label_studio: RecordingLabelStudio, settings: Any
) -> None:
    settings.LABEL_STUDIO_URL = "http://testserver:8080"
    rater = join_and_start(client, small_batch, "in-1")

    response = client.post(reverse("rater-label-studio"))

    assert response.status_code == 302
    assert response["Location"] == "http://testserver:8080/projects/42/data?labeling=1"
    cookie = response.cookies["sessionid"]
    assert cookie.value == f"signed-session-of-{rater.label_studio_user_id}"
    assert cookie["domain"] == ""  # this host only: Label Studio on another port of it gets it
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    assert not cookie["secure"]
    assert fake_label_studio.sign_ins == [rater.email]
    # Our own session is untouched: the rater's pages still know them.
    assert client.get(reverse("rater-progress")).status_code == 200


def test_label_studio_under_a_sibling_host_gets_the_cookie_on_the_configured_parent_domain(
    small_batch: AnnotationBatch, fake_label_studio: RecordingLabelStudio, settings: Any
) -> None:
    settings.ALLOWED_HOSTS = ["hvae.example.org"]
    settings.LABEL_STUDIO_URL = "https://labels.example.org"
    settings.LABEL_STUDIO_COOKIE_DOMAIN = ".example.org"
    client = Client(HTTP_HOST="hvae.example.org")
    join_and_start(client, small_batch, "sib")

    response = client.post(reverse("rater-label-studio"))

    assert response["Location"] == "https://labels.example.org/projects/42/data?labeling=1"
    cookie = response.cookies["sessionid"]
    assert cookie["domain"] == "example.org"
    assert cookie["secure"]


@pytest.mark.parametrize(
    ("label_studio_url", "parent"),
    [("http://label-studio.test:8080", ""), ("https://labels.example.org", "other.example")],
)
def test_when_the_cookie_cannot_reach_label_studio_the_rater_is_told_to_try_later_and_it_is_logged(
    client: Client,
    small_batch: AnnotationBatch,
    fake_label_studio: RecordingLabelStudio,
    settings: Any,
    caplog: pytest.LogCaptureFixture,
    label_studio_url: str,
    parent: str,
) -> None:
    join_and_start(client, small_batch, "far")
    settings.LABEL_STUDIO_URL = label_studio_url
    settings.LABEL_STUDIO_COOKIE_DOMAIN = parent

    with caplog.at_level(logging.ERROR, logger="annotation.views"):
        response = client.post(reverse("rater-label-studio"))

    assert response.status_code == 503
    assert "not available right now" in response.content.decode()
    assert "sessionid" not in response.cookies
    assert fake_label_studio.sign_ins == []
    assert any("LABEL_STUDIO_COOKIE_DOMAIN" in r.message for r in caplog.records)


def test_our_session_cookie_under_label_studios_name_is_refused_rather_than_overwritten(
    client: Client, small_batch: AnnotationBatch, fake_label_studio: RecordingLabelStudio, settings: Any
) -> None:
    settings.LABEL_STUDIO_URL = "http://testserver:8080"
    join_and_start(client, small_batch, "same-name")
    session_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    settings.SESSION_COOKIE_NAME = "sessionid"
    client.cookies["sessionid"] = session_key

    response = client.post(reverse("rater-label-studio"))

    assert response.status_code == 503
    assert fake_label_studio.sign_ins == []


def test_when_label_studio_refuses_the_sign_in_the_rater_sees_a_clear_page_without_internals(
    client: Client, small_batch: AnnotationBatch, fake_label_studio: RecordingLabelStudio, settings: Any
) -> None:
    settings.LABEL_STUDIO_URL = "http://testserver:8080"
    rater = join_and_start(client, small_batch, "down")
    fake_label_studio.fail = True

    response = client.post(reverse("rater-label-studio"))

    assert response.status_code == 503
    page = response.content.decode()
    assert "not available right now" in page
    assert "testserver:8080" not in page
    assert rater.email not in page


def test_opening_label_studio_needs_a_post_from_the_raters_session(
    client: Client, small_batch: AnnotationBatch, fake_label_studio: RecordingLabelStudio
) -> None:
    assert client.post(reverse("rater-label-studio")).status_code == 403
    join_and_start(client, small_batch, "get")
    assert client.get(reverse("rater-label-studio")).status_code == 405
    assert fake_label_studio.sign_ins == []
