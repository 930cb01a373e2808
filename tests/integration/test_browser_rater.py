"""A rater in a real browser (Debian's headless Chromium driven by Playwright): invite link with Prolific ids,
consent, instructions, Label Studio opened already signed in (the service signs the rater in; no credentials
are ever shown) and labeling, then back to the completion code and the platform.

A missing Chromium fails this test, it never skips it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from django.db import connections
from playwright.sync_api import Browser, Page, sync_playwright

from annotation import selectors, services
from annotation.models import HumanJudgment, Rater
from tests.annotation.factories import make_design_study
from tests.integration.labelstudio_server import LabelStudioServer

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
T = TypeVar("T")


def in_browser(walk: Callable[[Browser], T]) -> T:
    """Run ``walk`` with a headless Chromium on a thread of its own: Playwright's sync API keeps an event loop
    on its thread, which Django would take for an async context on the test's thread."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is required for the browser tests and is not at {CHROMIUM} (apt-get install chromium)"
        )

    def run() -> T:
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                try:
                    return walk(browser)
                finally:
                    browser.close()
        finally:
            connections.close_all()  # this thread's database connection, so the test database can be dropped

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result(timeout=300)


def reload_until_done(page: Page, timeout: float = 30) -> None:
    """The rater reloads their progress page until the judgment has come back from Label Studio (webhook)."""
    deadline = time.monotonic() + timeout
    while not page.locator("#completion-code").count():
        if time.monotonic() > deadline:
            pytest.fail(
                f"the completion code did not appear within {timeout}s: {page.inner_text('body')[:500]}"
            )
        time.sleep(0.5)
        page.reload()


def label_in_label_studio(page: Page) -> None:
    """What the rater does in Label Studio's own pages (opened signed in): judge the task shown, submit."""
    page.wait_for_selector("input[name=angle]", timeout=60_000)
    assert page.locator("text=Conversation").first.is_visible()
    page.locator("label:has(input[name=prosocial])").click()
    page.fill("input[name=angle]", "44.5")
    page.locator(".ant-rate-star").nth(3).click()
    page.get_by_test_id("bottombar-submit-button").click()


def test_a_rater_goes_from_the_invite_link_through_label_studio_to_the_completion_code(
    label_studio: LabelStudioServer, live_server: Any, settings: Any
) -> None:
    settings.LABEL_STUDIO_URL = label_studio.url
    settings.LABEL_STUDIO_API_KEY = label_studio.api_key
    settings.LABEL_STUDIO_WEBHOOK_SECRET = label_studio.webhook_secret
    settings.HVAE_PUBLIC_URL = live_server.url
    study = make_design_study()
    study.consent_text = "We keep your judgments. <em>Not</em> your name."
    study.consent_version = "2026-11"
    study.completion_code = "HVAE-7Q"
    study.completion_url = f"{live_server.url}/health"  # stands in for the crowd platform's return page
    study.save()
    # The informed arm: the rater also estimates the angle beside the ring (the blind and value-shown
    # configurations are checked against the real Label Studio in test_labelstudio_service.py).
    batch = services.annotation_batch_push(study=study, size=1, tasks_per_rater=1, arm="informed").batch
    # The rater reaches our pages under Label Studio's host name (another port), so that the Label Studio
    # session cookie our page sets is the browser's for Label Studio too.
    ours = live_server.url.replace("localhost", httpx.URL(label_studio.url).host)
    invite = (
        selectors.invite_url(batch=batch).replace(live_server.url, ours)
        + "?PROLIFIC_PID=pw-rater-1&STUDY_ID=st-9&SESSION_ID=se-3"
    )

    def walk(browser: Browser) -> dict[str, str]:
        seen: dict[str, str] = {}
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.goto(invite)
        seen["consent"] = page.inner_text("#consent-text")
        page.check("input[name=consent]")
        page.click("#agree")
        page.wait_for_selector("text=Worked example")
        page.click("#start")
        page.wait_for_selector("#sign-in")
        seen["done_before"] = page.inner_text("#done")
        seen["progress_page"] = page.content()

        with context.expect_page() as opened:
            page.click("#open-label-studio")
        label_in_label_studio(opened.value)
        reload_until_done(page)
        seen["code"] = page.inner_text("#completion-code")
        page.wait_for_url("**/health?cc=HVAE-7Q", timeout=20_000)
        seen["returned_to"] = page.url

        # Coming back through the invite link finds the same rater and the same Label Studio account.
        page.goto(invite)
        page.wait_for_selector("text=Worked example")
        page.click("#start")
        seen["code_again"] = page.inner_text("#completion-code")
        context.close()
        return seen

    seen = in_browser(walk)

    assert seen["consent"] == "We keep your judgments. <em>Not</em> your name."  # shown as text, not markup
    assert seen["done_before"] == "0"
    rater = Rater.objects.get()
    assert seen["code"] == seen["code_again"] == selectors.rater_completion_code(rater=rater)
    assert seen["returned_to"] == f"{live_server.url}/health?cc=HVAE-7Q"
    assert rater.email not in seen["progress_page"]
    assert rater.label_studio_password not in seen["progress_page"]
    assert (rater.participant_id, rater.platform_study_id, rater.platform_session_id) == (
        "pw-rater-1",
        "st-9",
        "se-3",
    )
    assert rater.consent_version == "2026-11"
    assert rater.consented_at is not None
    judgment = HumanJudgment.objects.get()
    assert (judgment.rater, judgment.category, judgment.angle_estimate, judgment.confidence) == (
        rater,
        "prosocial",
        44.5,
        4,
    )
    assert judgment.lead_time is not None
    users = httpx.get(
        f"{label_studio.url}/api/users/",
        headers={"Authorization": f"Token {label_studio.api_key}"},
        timeout=30,
    ).json()
    assert [u["id"] for u in users if u["email"] == rater.email] == [rater.label_studio_user_id]
