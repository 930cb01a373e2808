"""Rater pages: signed expirable invite, consent with time and version, account provisioning once, progress
and completion code; everything rater-controlled is escaped."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from annotation import selectors
from annotation.models import AnnotationBatch, HumanJudgment, Rater
from annotation.views import SESSION_RATER
from tests.annotation.conftest import RecordingLabelStudio


def invite(batch: AnnotationBatch, query: str = "") -> str:
    return reverse("rater-join", kwargs={"token": selectors.invite_token(batch=batch)}) + query


def consent(client: Client, batch: AnnotationBatch, query: str = "") -> Any:
    client.get(invite(batch, query))
    return client.post(invite(batch, query), {"consent": "yes"})


def test_invite_token_is_signed_and_names_its_batch(batch: AnnotationBatch) -> None:
    token = selectors.invite_token(batch=batch)

    assert selectors.batch_from_invite(token=token) == batch
    assert selectors.batch_from_invite(token=token[:-2] + "xx") is None
    assert selectors.batch_from_invite(token="garbage") is None
    batch.invite_token = "rotated"
    batch.save(update_fields=["invite_token"])
    assert selectors.batch_from_invite(token=token) is None


def test_invite_url_is_absolute_on_the_public_url(batch: AnnotationBatch, settings: Any) -> None:
    settings.HVAE_PUBLIC_URL = "https://hvae.example.org/"
    assert selectors.invite_url(batch=batch).startswith("https://hvae.example.org/r/join/")


def test_a_new_batch_invite_expires_in_a_month(batch: AnnotationBatch) -> None:
    assert batch.invite_expires_at is not None
    assert timedelta(days=29) < batch.invite_expires_at - timezone.now() <= timedelta(days=30)


def test_consent_page_shows_the_study_text_escaped(client: Client, batch: AnnotationBatch) -> None:
    batch.study.consent_text = "Read <script>alert(1)</script> carefully"
    batch.study.consent_version = "2026-01"
    batch.study.save()

    page = client.get(invite(batch)).content.decode()

    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page
    assert "Consent text version 2026-01" in page
    assert not Rater.objects.exists()


def test_consent_is_recorded_with_time_version_and_prolific_ids(
    client: Client, batch: AnnotationBatch
) -> None:
    batch.study.consent_version = "v3"
    batch.study.save()

    response = consent(client, batch, "?PROLIFIC_PID=abc123&STUDY_ID=s1&SESSION_ID=x9")

    assert response.status_code == 302
    assert response["Location"].endswith("/instructions")
    rater = Rater.objects.get()
    assert (rater.participant_id, rater.platform_study_id, rater.platform_session_id) == (
        "abc123",
        "s1",
        "x9",
    )
    assert rater.consent_version == "v3"
    assert rater.consented_at is not None
    assert rater.label_studio_user_id is None
    page = client.get(response["Location"]).content.decode()
    assert "Worked example" in page


def test_declining_consent_creates_no_rater(client: Client, batch: AnnotationBatch) -> None:
    client.get(invite(batch))
    page = client.post(invite(batch), {}).content.decode()
    assert "You did not agree" in page
    assert not Rater.objects.exists()
    assert client.get(reverse("rater-progress")).status_code == 403


def test_an_expired_invite_says_so_and_creates_nothing(
    client: Client, batch: AnnotationBatch, fake_label_studio: RecordingLabelStudio
) -> None:
    batch.invite_expires_at = timezone.now() - timedelta(minutes=1)
    batch.save()

    for response in (client.get(invite(batch)), client.post(invite(batch), {"consent": "yes"})):
        assert response.status_code == 410
        assert "This invitation has expired" in response.content.decode()
    assert not Rater.objects.exists()
    assert fake_label_studio.calls == []


def test_an_invalid_invite_is_a_clear_404(client: Client, batch: AnnotationBatch) -> None:
    response = client.get(reverse("rater-join", kwargs={"token": "not-a-token"}))
    assert response.status_code == 404
    assert "not valid" in response.content.decode()


def test_start_provisions_one_account_even_on_a_second_visit(
    client: Client, batch: AnnotationBatch, fake_label_studio: RecordingLabelStudio
) -> None:
    token = selectors.invite_token(batch=batch)
    consent(client, batch, "?PROLIFIC_PID=pid-1")
    first = client.post(reverse("rater-start", kwargs={"token": token}))
    # The same browser comes back through the invite link and starts again.
    assert client.get(invite(batch, "?PROLIFIC_PID=pid-1"))["Location"].endswith("/instructions")
    second = client.post(reverse("rater-start", kwargs={"token": token}))

    assert first.status_code == second.status_code == 302
    assert first["Location"] == reverse("rater-progress")
    rater = Rater.objects.get()
    assert rater.label_studio_user_id == 100
    assert len(rater.label_studio_password) >= 16
    assert fake_label_studio.calls == [rater.email]  # the account was made once
    page = client.get(reverse("rater-progress")).content.decode()
    assert 'id="open-label-studio"' in page
    assert reverse("rater-label-studio") in page


def test_start_when_label_studio_is_down_keeps_consent_and_says_try_again(
    client: Client, batch: AnnotationBatch, fake_label_studio: RecordingLabelStudio
) -> None:
    fake_label_studio.fail = True
    consent(client, batch)
    response = client.post(reverse("rater-start", kwargs={"token": selectors.invite_token(batch=batch)}))

    assert response.status_code == 503
    assert "not available right now" in response.content.decode()
    rater = Rater.objects.get()
    assert rater.consented_at is not None
    assert rater.label_studio_user_id is None


def test_start_needs_consent_first(client: Client, batch: AnnotationBatch) -> None:
    token = selectors.invite_token(batch=batch)
    response = client.post(reverse("rater-start", kwargs={"token": token}))
    assert response.status_code == 302
    assert response["Location"] == invite(batch)
    assert client.get(reverse("rater-instructions", kwargs={"token": token}))["Location"] == invite(batch)


def test_progress_shows_only_my_counts_escaped_and_the_code_at_quota(
    client: Client, batch: AnnotationBatch, fake_label_studio: RecordingLabelStudio
) -> None:
    study = batch.study
    study.completion_code = "C0DE42"
    study.completion_url = "https://app.prolific.example/submissions/complete"
    study.save()
    batch.tasks_per_rater = 2
    batch.save()
    consent(client, batch, "?PROLIFIC_PID=%3Cb%3Eme%3C/b%3E")
    client.post(reverse("rater-start", kwargs={"token": selectors.invite_token(batch=batch)}))
    me = Rater.objects.get()
    someone = Rater.objects.create(batch=batch, participant_id="other", email="o@raters.invalid")
    tasks = list(batch.tasks.order_by("id"))

    def judge(annotation_id: int, rater: Rater, task_index: int, **fields: Any) -> None:
        task = tasks[task_index]
        HumanJudgment.objects.create(
            label_studio_annotation_id=annotation_id, task=task, trial=task.trial, rater=rater, **fields
        )

    judge(1, me, 0)
    judge(2, someone, 1)
    judge(3, someone, 2)
    judge(4, me, 3, deleted=True)
    page = client.get(reverse("rater-progress")).content.decode()
    assert "&lt;b&gt;me&lt;/b&gt;" in page
    assert '<strong id="done">1</strong>' in page
    assert "C0DE42" not in page

    judge(5, me, 4)
    page = client.get(reverse("rater-progress")).content.decode()
    assert '<strong id="done">2</strong>' in page
    code = selectors.rater_completion_code(rater=me)
    assert f'<span class="code" id="completion-code">{code}</span>' in page
    # The platform's return link carries the study's code, which the platform checks by itself.
    assert "https://app.prolific.example/submissions/complete?cc=C0DE42" in page


def test_completion_url_keeps_a_code_it_already_has() -> None:
    assert selectors._with_code("https://x.example/done?cc=OLD", "NEW") == "https://x.example/done?cc=OLD"
    assert selectors._with_code("https://x.example/done?a=1", "NEW") == "https://x.example/done?a=1&cc=NEW"
    assert selectors._with_code("", "NEW") == ""


def test_progress_page_refreshes_itself_until_done(
    client: Client, batch: AnnotationBatch, fake_label_studio: RecordingLabelStudio
) -> None:
    consent(client, batch)
    client.post(reverse("rater-start", kwargs={"token": selectors.invite_token(batch=batch)}))
    assert (
        '<meta http-equiv="refresh" content="30">' in client.get(reverse("rater-progress")).content.decode()
    )


def test_a_rater_who_runs_out_of_conversations_gets_the_code_for_what_they_did(
    client: Client, batch: AnnotationBatch, fake_label_studio: RecordingLabelStudio
) -> None:
    study = batch.study
    study.completion_code = "C0DE42"
    study.save()
    batch.tasks_per_rater = 50
    batch.overlap = 1
    batch.save()
    consent(client, batch)
    client.post(reverse("rater-start", kwargs={"token": selectors.invite_token(batch=batch)}))
    me = Rater.objects.get()
    late = Rater.objects.create(batch=batch, participant_id="late", email="late@raters.invalid")
    someone = Rater.objects.create(batch=batch, participant_id="other", email="o@raters.invalid")
    tasks = list(batch.tasks.order_by("id"))
    assert selectors.rater_tasks_left(rater=me) == len(tasks)
    for number, task in enumerate(tasks, start=1):
        rater = me if number == 1 else someone
        HumanJudgment.objects.create(
            label_studio_annotation_id=number, task=task, trial=task.trial, rater=rater
        )
    assert selectors.rater_tasks_left(rater=me) == 0
    progress = selectors.rater_progress(rater=me)
    assert progress.ran_out
    assert progress.finished
    assert progress.done == 1
    assert progress.completion_code == selectors.rater_completion_code(rater=me)
    page = client.get(reverse("rater-progress")).content.decode()
    assert f'<span class="code" id="completion-code">{progress.completion_code}</span>' in page
    assert "you are done with 1 instead of" in page
    # A rater who judged nothing gets no code, only the news that nothing is left.
    nothing = selectors.rater_progress(rater=late)
    assert nothing.ran_out
    assert nothing.completion_code == ""
    late.consented_at = timezone.now()
    late.save()
    other_browser = Client()
    session = other_browser.session
    session[SESSION_RATER] = late.pk
    session.save()
    late_page = other_browser.get(reverse("rater-progress")).content.decode()
    assert "nothing left for you to do" in late_page
    assert progress.completion_code not in late_page
    assert 'id="completion-code"' not in late_page
    # A deleted judgment frees its task again.
    HumanJudgment.objects.filter(label_studio_annotation_id=2).update(deleted=True)
    assert selectors.rater_tasks_left(rater=me) == 1
    assert not selectors.rater_progress(rater=me).finished


@pytest.mark.parametrize(
    ("arm", "angle", "unclear", "served"),
    [("blind", False, True, False), ("value-shown", False, True, True), ("informed", True, False, False)],
)
def test_the_instructions_ask_only_what_the_arms_interface_asks(
    client: Client, batch: AnnotationBatch, arm: str, angle: bool, unclear: bool, served: bool
) -> None:
    AnnotationBatch.objects.filter(pk=batch.pk).update(arm=arm)
    consent(client, batch)
    token = selectors.invite_token(batch=batch)
    page = client.get(reverse("rater-instructions", kwargs={"token": token})).content.decode()
    # the blind and value-shown arms show no ring and ask no angle: their instructions give no angle scale
    assert ('id="instructions-angle"' in page) is angle
    assert ("45°" in page) is angle
    assert ("<em>unclear</em>" in page) is unclear
    assert ("served" in page) is served
