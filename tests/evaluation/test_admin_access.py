"""The admin for researchers: study add and change work, lists show only one's studies, and every action
declares the permission it needs (view-only staff cannot cancel or resume runs)."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission, User
from django.test import Client

from evaluation import services
from evaluation.models import EvaluationRun, Study, StudyMember, Trial
from tests.annotation.factories import make_design_study, make_endpoint


def staff_researcher(username: str) -> User:
    user, _ = services.researcher_create(username=username, email=f"{username}@lab.invalid", password=None)
    assert isinstance(user, User)
    return user


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def running_run(study: Study) -> EvaluationRun:
    return EvaluationRun.objects.create(
        study=study,
        endpoint=make_endpoint(),
        model="ref-faithful",
        value="prosocial",
        n_trials=1,
        status=EvaluationRun.Status.RUNNING,
    )


def study_form(name: str, **extra: str) -> dict[str, str]:
    data = {
        "name": name,
        "description": "",
        "consent_text": "",
        "consent_version": "1",
        "completion_url": "",
        "completion_code": "",
        "members-TOTAL_FORMS": "0",
        "members-INITIAL_FORMS": "0",
        "members-MIN_NUM_FORMS": "0",
        "members-MAX_NUM_FORMS": "1000",
        "runs-TOTAL_FORMS": "0",
        "runs-INITIAL_FORMS": "0",
        "runs-MIN_NUM_FORMS": "0",
        "runs-MAX_NUM_FORMS": "1000",
    }
    return data | extra


@pytest.mark.parametrize("superuser", [False, True])
def test_study_add_and_change_pages_work_and_save(db: None, superuser: bool) -> None:
    if superuser:
        user = User.objects.create_superuser("root", "root@lab.invalid", "a-long-test-password")
    else:
        user = staff_researcher("alice")
    client = signed_in(user)
    assert client.get("/admin/evaluation/study/add/").status_code == 200
    response = client.post("/admin/evaluation/study/add/", study_form("added in the admin"))
    assert response.status_code == 302, response.content.decode()[-3000:]
    study = Study.objects.get(name="added in the admin")
    assert study.owner == user

    running_run(study)
    assert client.get(f"/admin/evaluation/study/{study.pk}/change/").status_code == 200
    colleague = staff_researcher("bob")
    form = study_form(
        "renamed",
        description="changed",
        **{
            "members-TOTAL_FORMS": "1",
            "members-0-user": str(colleague.pk),
            "members-0-role": "viewer",
            "runs-TOTAL_FORMS": "1",
            "runs-INITIAL_FORMS": "1",
            "runs-0-id": str(study.runs.get().pk),
            "runs-0-study": str(study.pk),
        },
    )
    response = client.post(f"/admin/evaluation/study/{study.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[-3000:]
    study.refresh_from_db()
    assert (study.name, study.description) == ("renamed", "changed")
    assert StudyMember.objects.get(study=study).user == colleague


def test_non_superusers_see_only_their_studies_in_the_admin(db: None) -> None:
    alice, bob = staff_researcher("alice"), staff_researcher("bob")
    mine = make_design_study("alice's")
    mine.owner = alice
    mine.save(update_fields=["owner"])
    theirs = make_design_study("bob's")
    theirs.owner = bob
    theirs.save(update_fields=["owner"])
    client = signed_in(alice)
    studies = client.get("/admin/evaluation/study/").content.decode()
    assert "alice&#x27;s" in studies
    assert "bob&#x27;s" not in studies
    runs = client.get("/admin/evaluation/evaluationrun/").content.decode()
    assert f"/admin/evaluation/evaluationrun/{mine.runs.first().pk}/change/" in runs  # type: ignore[union-attr]
    assert f"/admin/evaluation/evaluationrun/{theirs.runs.first().pk}/change/" not in runs  # type: ignore[union-attr]
    assert client.get(f"/admin/evaluation/study/{theirs.pk}/change/").status_code == 302  # "does not exist"
    trial = Trial.objects.filter(run__study=theirs).first()
    assert trial is not None
    assert client.get(f"/admin/evaluation/trial/{trial.pk}/change/").status_code == 302
    add_form = client.get("/admin/annotation/annotationbatch/").content.decode()
    assert "bob&#x27;s" not in add_form  # not even in the list filter


def test_every_admin_action_declares_its_permission() -> None:
    undeclared = []
    for model, model_admin in admin.site._registry.items():
        for function, name, _ in model_admin._get_base_actions():  # type: ignore[attr-defined]
            if not getattr(function, "allowed_permissions", ()):
                undeclared.append(f"{model.__name__}.{name}")
    assert not undeclared


def post_action(client: Client, action: str, run: EvaluationRun) -> None:
    client.post("/admin/evaluation/evaluationrun/", {"action": action, "_selected_action": [run.pk]})


@pytest.mark.django_db(transaction=True)
def test_view_only_staff_cannot_cancel_or_resume_runs() -> None:
    study = make_design_study("guarded")
    run = running_run(study)
    finished = study.runs.exclude(pk=run.pk).first()
    assert finished is not None
    finished.status = EvaluationRun.Status.CANCELLED
    finished.save(update_fields=["status"])

    # Staff with only the view permission on runs, although an editor of the study.
    viewer_staff = staff_researcher("view-only")
    change_runs = Permission.objects.get(codename="change_evaluationrun")
    viewer_staff.groups.get().permissions.remove(change_runs)
    StudyMember.objects.create(study=study, user=viewer_staff, role=StudyMember.Role.EDITOR)
    client = signed_in(viewer_staff)
    page = client.get("/admin/evaluation/evaluationrun/").content.decode()
    assert "cancel_runs" not in page
    assert "resume_runs" not in page
    post_action(client, "cancel_runs", run)
    post_action(client, "resume_runs", finished)
    run.refresh_from_db()
    finished.refresh_from_db()
    assert run.status == EvaluationRun.Status.RUNNING
    assert finished.status == EvaluationRun.Status.CANCELLED

    # A researcher with the change permission who is only a viewer of the study.
    services.researchers_group().permissions.add(change_runs)
    reader = staff_researcher("reader")
    StudyMember.objects.create(study=study, user=reader, role=StudyMember.Role.VIEWER)
    client = signed_in(reader)
    assert "cancel_runs" not in client.get("/admin/evaluation/evaluationrun/").content.decode()
    post_action(client, "cancel_runs", run)
    run.refresh_from_db()
    assert run.status == EvaluationRun.Status.RUNNING

    # An editor elsewhere may act, but only on runs of studies they may change.
    elsewhere = make_design_study("reader's own")
    elsewhere.owner = reader
    elsewhere.save(update_fields=["owner"])
    page = client.get("/admin/evaluation/evaluationrun/").content.decode()
    assert "cancel_runs" in page
    response = client.post(
        "/admin/evaluation/evaluationrun/",
        {"action": "cancel_runs", "_selected_action": [run.pk]},
        follow=True,
    )
    assert "skipped" in response.content.decode()
    run.refresh_from_db()
    assert run.status == EvaluationRun.Status.RUNNING

    # The study's editor, with the change permission, cancels.
    editor = staff_researcher("editor")
    StudyMember.objects.create(study=study, user=editor, role=StudyMember.Role.EDITOR)
    post_action(signed_in(editor), "cancel_runs", run)
    run.refresh_from_db()
    assert run.status == EvaluationRun.Status.CANCELLED
