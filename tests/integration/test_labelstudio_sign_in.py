"""The service signs a rater in to a real Label Studio 1.23: the rater's browser gets Label Studio's session
cookie from our page and Label Studio then serves the rater's labeling stream to it, as that rater. No page
shows the account's email or password."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from django.test import Client
from django.urls import reverse

from annotation import selectors, services
from annotation.labelstudio import SESSION_COOKIE, LabelStudioClient, LabelStudioError
from annotation.models import Rater
from tests.annotation.factories import make_design_study
from tests.integration.labelstudio_server import LabelStudioServer

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def configured(label_studio: LabelStudioServer, settings: Any) -> LabelStudioServer:
    settings.LABEL_STUDIO_URL = label_studio.url
    settings.LABEL_STUDIO_API_KEY = label_studio.api_key
    settings.LABEL_STUDIO_WEBHOOK_SECRET = ""  # no webhook needed here
    return label_studio


def test_the_rater_ends_up_signed_in_to_label_studio_by_the_cookie_the_service_set(
    configured: LabelStudioServer,
) -> None:
    batch = services.annotation_batch_push(study=make_design_study(), size=2, seed=5).batch
    token = selectors.invite_token(batch=batch)
    host = httpx.URL(configured.url).host
    assert host == "127.0.0.1"
    browser = Client(HTTP_HOST=host)  # our pages under Label Studio's host name, on another port

    pages = [
        browser.get(reverse("rater-join", kwargs={"token": token}) + "?PROLIFIC_PID=ls-signin-1"),
        browser.post(reverse("rater-join", kwargs={"token": token}), {"consent": "yes"}),
        browser.post(reverse("rater-start", kwargs={"token": token})),
        browser.get(reverse("rater-progress")),
    ]
    opened = browser.post(reverse("rater-label-studio"))
    rater = Rater.objects.get()

    assert opened.status_code == 302
    labeling = f"{configured.url}/projects/{batch.label_studio_project_id}/data?labeling=1"
    assert opened["Location"] == labeling
    cookie = opened.cookies[SESSION_COOKIE]
    for response in [*pages, opened]:
        shown = response.content.decode() + " ".join(f"{k}: {v}" for k, v in response.items())
        assert rater.label_studio_password not in shown
        assert rater.email not in shown

    with httpx.Client(cookies={SESSION_COOKIE: cookie.value}, timeout=30) as signed_in:
        page = signed_in.get(labeling)
        me = signed_in.get(f"{configured.url}/api/current-user/whoami")
    with httpx.Client(timeout=30) as stranger:
        refused = stranger.get(labeling)

    assert page.status_code == 200
    assert me.status_code == 200
    assert (me.json()["id"], me.json()["email"]) == (rater.label_studio_user_id, rater.email)
    assert refused.status_code == 302
    assert "/user/login/" in refused.headers["location"]


def test_sign_in_with_a_wrong_password_is_refused_and_gives_no_cookie(configured: LabelStudioServer) -> None:
    with LabelStudioClient(configured.url, configured.api_key) as ls:
        account = ls.ensure_user(
            email="signin-check@raters.invalid", username="signin-check", password="right-password-1"
        )
        session = ls.sign_in(email="signin-check@raters.invalid", password="right-password-1")
        with pytest.raises(LabelStudioError, match="refused /user/login/"):
            ls.sign_in(email="signin-check@raters.invalid", password="wrong-password-1")

    assert session.user_id == account.id
    assert session.cookie_name == "sessionid"
    assert session.cookie_value
