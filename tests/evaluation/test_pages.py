"""Researcher pages: study, run and trial; model output is shown escaped."""

from __future__ import annotations

import time

import pytest

from evaluation import services
from evaluation.models import Trial


@pytest.fixture
def browser(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def scored_trial(study, reference_endpoint) -> Trial:
    run, _ = services.evaluation_run_create(
        study=study,
        endpoint=reference_endpoint,
        design=services.RunDesign(model="ref-faithful", value="prosocial"),
    )
    services.evaluation_run_mark_started(run_ids=[run.pk])
    trial = services.trial_claim(run_ids=[run.pk], token="tok")
    assert trial is not None
    items = [
        services.ItemOutcome(
            n, list(range(1, 10)), "<script>alert(1)</script> I pick A", 1, "parser", "label"
        )
        for n in range(1, 7)
    ]
    transcript = [{"role": "assistant", "content": "<script>alert('x')</script>"}]
    services.trial_record_result(
        trial=trial, token="tok", outcome=services.TrialOutcome(transcript=transcript, items=items)
    )
    trial.refresh_from_db()
    return trial


def test_trial_page_escapes_model_output(browser, scored_trial) -> None:
    page = browser.get(f"/trials/{scored_trial.pk}/").content.decode()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "<script>alert('x')</script>" not in page


def test_study_page_shows_heatmap_ring_and_table(browser, scored_trial) -> None:
    page = browser.get(f"/studies/{scored_trial.run.study.pk}/").content.decode()
    assert page.count("<svg") >= 2
    assert "Mean value rationality" in page
    assert "ref-faithful" in page


def test_run_page_shows_progress(browser, scored_trial) -> None:
    run = scored_trial.run
    assert "1 of 10 trials done" in " ".join(
        browser.get(f"/runs/{run.pk}/").content.decode().split()
    ).replace('<span id="done">1</span>', "1")
    progress = browser.get(f"/runs/{run.pk}/progress").json()
    assert progress["scored"] == 1
    assert progress["total"] == 10


def test_pages_need_login(client, scored_trial) -> None:
    response = client.get(f"/trials/{scored_trial.pk}/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_run_can_be_cancelled_from_its_page(browser, scored_trial) -> None:
    run = scored_trial.run
    page = browser.get(f"/runs/{run.pk}/").content.decode()
    assert "Cancel run" in page
    response = browser.post(f"/runs/{run.pk}/cancel", follow=True)
    assert "cancelled; its finished trials are kept" in response.content.decode()
    run.refresh_from_db()
    assert run.status == "cancelled"
    assert run.trials.filter(status="scored").count() == 1
    again = browser.post(f"/runs/{run.pk}/cancel", follow=True).content.decode()
    assert "already cancelled" in again
    assert browser.get(f"/runs/{run.pk}/cancel").status_code == 405


@pytest.mark.django_db(transaction=True)
def test_admin_cancels_and_resumes_runs(admin_client, scored_trial) -> None:
    run = scored_trial.run
    changelist = "/admin/evaluation/evaluationrun/"
    admin_client.post(changelist, {"action": "cancel_runs", "_selected_action": [run.pk]})
    run.refresh_from_db()
    assert run.status == "cancelled"
    admin_client.post(changelist, {"action": "resume_runs", "_selected_action": [run.pk]})
    deadline = time.monotonic() + 60
    while run.status != "completed":
        assert time.monotonic() < deadline, run.status
        time.sleep(0.2)
        run.refresh_from_db()
    assert run.trials.count() == 10
    assert run.trials.filter(status="running").count() == 0


def test_recorded_results_cannot_be_edited_in_the_admin(admin_client, scored_trial) -> None:
    run = scored_trial.run
    for url in (
        f"/admin/evaluation/trial/{scored_trial.pk}/change/",
        f"/admin/evaluation/evaluationrun/{run.pk}/change/",
    ):
        page = admin_client.get(url)
        assert page.status_code == 200
        assert 'name="_save"' not in page.content.decode()
    assert admin_client.get("/admin/evaluation/evaluationrun/add/").status_code == 403
    assert admin_client.post(f"/admin/evaluation/trial/{scored_trial.pk}/delete/").status_code == 403
    trial_page = admin_client.get(f"/admin/evaluation/trial/{scored_trial.pk}/change/").content.decode()
    assert "&lt;script&gt;" in trial_page


def test_run_page_shows_the_protocol_and_the_software(browser, study, reference_endpoint) -> None:
    run, _ = services.evaluation_run_create(
        study=study,
        endpoint=reference_endpoint,
        design=services.RunDesign(model="ref-faithful", value="prosocial", prompt_variant="paper"),
    )
    page = " ".join(browser.get(f"/runs/{run.pk}/").content.decode().split())
    assert "temperature none sent (provider default)" in page
    assert "ask once more, then the extractor, then fail" in page
    assert f"<th>software</th><td>{run.provenance['service_version']} · " in page
    assert all(f"{name} {version}" in page for name, version in run.provenance["packages"].items())
