"""The page raters see when Label Studio is down names no internal address."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from annotation import selectors
from annotation.models import AnnotationBatch
from tests.annotation.conftest import RecordingLabelStudio
from tests.annotation.test_rater_pages import consent


def test_the_unavailable_page_names_no_internal_address(
    client: Client, batch: AnnotationBatch, fake_label_studio: RecordingLabelStudio
) -> None:
    fake_label_studio.fail = True
    consent(client, batch)
    response = client.post(reverse("rater-start", kwargs={"token": selectors.invite_token(batch=batch)}))
    assert response.status_code == 503
    page = response.content.decode()
    assert "not available right now" in page
    assert "127.0.0.1" not in page
    assert "label-studio.test" not in page
    assert "not reachable" not in page
