from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from annotation import services
from annotation.labelstudio import BrowserSession, RaterAccount
from annotation.models import AnnotationBatch
from evaluation.models import Study
from tests.annotation.factories import make_design_study

SECRET = "unit-test-webhook-secret"


@pytest.fixture
def study(db: None, user: Any) -> Study:
    study = make_design_study()
    study.owner = user
    study.save(update_fields=["owner"])
    return study


@pytest.fixture
def batch(study: Study) -> AnnotationBatch:
    batch, _ = services.annotation_batch_get_or_create(study=study, size=6, overlap=2, seed=1, gold=2)
    batch.label_studio_project_id = 42
    batch.save(update_fields=["label_studio_project_id"])
    return batch


@pytest.fixture
def webhook_secret(settings: Any) -> str:
    settings.LABEL_STUDIO_WEBHOOK_SECRET = SECRET
    return SECRET


@dataclass
class RecordingLabelStudio:
    """Stands in for the adapter in fast unit tests of views (the real one is tested against Label Studio)."""

    users: dict[str, int] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    passwords: dict[str, str] = field(default_factory=dict)
    sign_ins: list[str] = field(default_factory=list)
    fail: bool = False
    closed: int = 0

    def close(self) -> None:
        self.closed += 1

    def ensure_user(self, *, email: str, username: str, **kwargs: Any) -> RaterAccount:
        self.calls.append(email)
        if self.fail:
            from annotation.labelstudio import LabelStudioError

            raise LabelStudioError("Label Studio at http://127.0.0.1:9 is not reachable: connection refused")
        user_id = self.users.setdefault(email, 100 + len(self.users))
        self.passwords[email] = str(kwargs.get("password"))
        return RaterAccount(id=user_id, email=email, username=username, token=None)

    def sign_in(self, *, email: str, password: str) -> BrowserSession:
        """Label Studio's answer to its login form: a session cookie for the account, when the password fits."""
        from annotation.labelstudio import LabelStudioError

        if self.fail or self.passwords.get(email) != password:
            raise LabelStudioError(f"Label Studio refused /user/login/ for {email}: wrong email or password")
        self.sign_ins.append(email)
        return BrowserSession(
            cookie_name="sessionid",
            cookie_value=f"signed-session-of-{self.users[email]}",
            user_id=self.users[email],
        )


@pytest.fixture
def fake_label_studio(monkeypatch: pytest.MonkeyPatch, settings: Any) -> RecordingLabelStudio:
    settings.LABEL_STUDIO_URL = "http://label-studio.test:8080"
    fake = RecordingLabelStudio()
    factory: Callable[[], Any] = lambda: fake  # noqa: E731
    monkeypatch.setattr(services, "label_studio_client", factory)
    return fake
