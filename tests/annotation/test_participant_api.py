"""Participant links and participants through the command, the API, the admin and the export: scoped by study
access, bad input a 400 with field errors or exit code 2, never a traceback."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from rest_framework.test import APIClient

from annotation import participant_services as services
from annotation.models import Participant, SvoLink
from evaluation.models import Study, StudyMember
from tests.conftest import make_researcher
from tests.processes import manage

PATTERN = {1: 1, 2: 9, 3: 9, 4: 1, 5: 5, 6: 9}


def take_part(link: SvoLink, pid: str) -> Participant:
    participant, _ = services.participant_join(link=link, participant_id=pid)
    services.svo_responses_submit(participant=participant, wave=1, submission=services.Submission(PATTERN))
    return participant


def test_command_prints_a_signed_link_that_opens_the_consent_page(study: Study, capsys: Any) -> None:
    call_command(
        "human_svo_link", "--study", study.name, "--induce", "random", "--retest-after", "48", "--quota", "30"
    )

    out = capsys.readouterr().out
    link = SvoLink.objects.get()
    assert (link.induce, link.retest_after_hours, link.quota) == ("random", 48, 30)
    url = out.strip().splitlines()[-1]
    assert url.startswith("http://127.0.0.1:8000/p/")
    response = Client().get(url.split("127.0.0.1:8000", 1)[1])
    assert response.status_code == 200
    assert 'id="agree"' in response.content.decode()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--study", "no-such-study"], "no study named or numbered 'no-such-study'"),
        (["--quota", "0"], "quota must be 1..100000"),
        (["--retest-after", "-1"], "retest interval must be 0..8760"),
    ],
)
def test_command_with_bad_input_exits_2_and_makes_no_link(
    study: Study, args: list[str], message: str
) -> None:
    full = args if "--study" in args else ["--study", study.name, *args]
    with pytest.raises(CommandError, match=message) as error:
        call_command("human_svo_link", *full)
    assert error.value.returncode == 2
    assert not SvoLink.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_command_refuses_an_unknown_induction_with_exit_2(study: Study) -> None:
    process = manage("human_svo_link", "--study", study.name, "--induce", "greedy")
    _, stderr = process.communicate(timeout=120)

    assert process.returncode == 2
    assert "invalid choice: 'greedy'" in stderr
    assert "Traceback" not in stderr


def test_api_makes_and_lists_links(api_client: APIClient, study: Study) -> None:
    response = api_client.post(
        "/api/v1/svo-links", {"study": study.pk, "induce": "altruistic", "items": "all"}, format="json"
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["induce"] == "altruistic"
    assert body["items"] == "all"
    assert "/p/" in body["url"]
    listed = api_client.get("/api/v1/svo-links").json()
    assert [row["id"] for row in listed["results"]] == [body["id"]]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"induce": "greedy"}, "induce"),
        ({"items": "some"}, "items"),
        ({"quota": 0}, "quota"),
        ({"retest_after_hours": -3}, "retest_after_hours"),
        ({"retest_after_hours": 10**9}, "retest_after_hours"),
        ({"study": 999999}, "study"),
    ],
)
def test_api_refuses_bad_links_with_field_errors(
    api_client: APIClient, study: Study, data: dict[str, Any], field: str
) -> None:
    response = api_client.post("/api/v1/svo-links", {"study": study.pk, **data}, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert not SvoLink.objects.exists()


def test_api_scopes_links_and_participants_by_study_access(api_client: APIClient, study: Study) -> None:
    link = services.svo_link_create(study=study)
    participant = take_part(link, "p-1")
    stranger = APIClient()
    stranger.force_authenticate(make_researcher("stranger"))
    viewer_user = make_researcher("viewer")
    StudyMember.objects.create(study=study, user=viewer_user, role=StudyMember.Role.VIEWER)
    viewer = APIClient()
    viewer.force_authenticate(viewer_user)

    assert stranger.get("/api/v1/svo-links").json()["results"] == []
    assert stranger.get("/api/v1/participants").json()["results"] == []
    assert stranger.get(f"/api/v1/participants/{participant.pk}").status_code == 404
    assert stranger.post("/api/v1/svo-links", {"study": study.pk}, format="json").status_code == 400
    assert viewer.get(f"/api/v1/participants/{participant.pk}").status_code == 200
    assert viewer.post("/api/v1/svo-links", {"study": study.pk}, format="json").status_code == 403
    assert APIClient().get("/api/v1/participants").status_code in (401, 403)
    assert SvoLink.objects.count() == 1


def test_api_participant_detail_has_each_waves_scores_and_answers(
    api_client: APIClient, study: Study
) -> None:
    participant = take_part(services.svo_link_create(study=study), "p-1")

    body = api_client.get(f"/api/v1/participants/{participant.pk}").json()

    assert body["participant_id"] == "p-1"
    assert body["waves"] == [1]
    (wave,) = body["response_sets"]
    assert wave["definitions_version"]
    assert wave["category"] == "prosocial"
    assert sorted((a["item"], a["option"]) for a in wave["answers"]) == sorted(PATTERN.items())


def test_export_as_csv_and_json_for_researchers_who_see_the_study(
    client: Client, user: Any, study: Study
) -> None:
    take_part(services.svo_link_create(study=study), "p-1")
    client.force_login(user)

    as_csv = client.get(f"/studies/{study.pk}/svo-responses.csv")
    as_json = client.get(f"/studies/{study.pk}/svo-responses.json").json()

    rows = list(csv.DictReader(io.StringIO(as_csv.content.decode())))
    assert len(rows) == 6
    assert {r["participant_id"] for r in rows} == {"p-1"}
    assert {int(r["item"]): int(r["option"]) for r in rows} == PATTERN
    assert len(as_json["rows"]) == 6
    assert as_json["columns"][0] == "study"
    stranger = Client()
    stranger.force_login(make_researcher("stranger"))
    assert stranger.get(f"/studies/{study.pk}/svo-responses.csv").status_code == 404


def test_export_csv_neutralises_a_participant_id_a_spreadsheet_would_run(
    client: Client, user: Any, study: Study
) -> None:
    # The participant id comes from the crowd platform's URL parameter, so anyone holding the link chooses it.
    take_part(services.svo_link_create(study=study), "=HYPERLINK(1)")
    client.force_login(user)

    rows = list(
        csv.DictReader(io.StringIO(client.get(f"/studies/{study.pk}/svo-responses.csv").content.decode()))
    )

    assert {r["participant_id"] for r in rows} == {"'=HYPERLINK(1)"}
    assert {int(r["option"]) for r in rows} <= set(range(1, 10))
    as_json = client.get(f"/studies/{study.pk}/svo-responses.json").json()
    assert as_json["rows"][0]["participant_id"] == "=HYPERLINK(1)"


def test_admin_makes_a_link_through_the_service_and_shows_it(admin_client: Client, study: Study) -> None:
    response = admin_client.post(
        "/admin/annotation/svolink/add/",
        {
            "study": study.pk,
            "induce": "prosocial",
            "items": "primary",
            "seed": "0",
            "quota": "",
            "retest_after_hours": "",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    link = SvoLink.objects.get()
    page = admin_client.get(f"/admin/annotation/svolink/{link.pk}/change/").content.decode()
    assert "Link for participants" in page
    assert "127.0.0.1:8000/p/" in page
    take_part(link, "p-1")
    assert admin_client.get("/admin/annotation/participant/").status_code == 200
    assert admin_client.get("/admin/annotation/svoresponseset/").status_code == 200


def test_api_filters_offer_only_visible_studies_and_links(api_client: APIClient, study: Study) -> None:
    link = services.svo_link_create(study=study)
    take_part(link, "p-1")
    stranger = APIClient()
    stranger.force_authenticate(make_researcher("stranger"))

    assert len(api_client.get(f"/api/v1/participants?link={link.pk}").json()["results"]) == 1
    assert len(api_client.get(f"/api/v1/participants?link__study={study.pk}").json()["results"]) == 1
    for path in (
        f"/api/v1/svo-links?study={study.pk}",
        f"/api/v1/participants?link={link.pk}",
        f"/api/v1/participants?link__study={study.pk}",
    ):
        response = stranger.get(path)
        assert response.status_code == 400, path  # the same answer as for an id that does not exist
        assert "Select a valid choice" in str(response.json()), path


def test_admin_offers_links_only_for_studies_the_user_may_change(study: Study) -> None:
    viewer, editor = Client(), Client()
    viewer_user = make_researcher("viewer", is_staff=True)
    editor_user = make_researcher("editor", is_staff=True)
    StudyMember.objects.create(study=study, user=viewer_user, role=StudyMember.Role.VIEWER)
    StudyMember.objects.create(study=study, user=editor_user, role=StudyMember.Role.EDITOR)
    viewer.force_login(viewer_user)
    editor.force_login(editor_user)
    form = {"study": study.pk, "induce": "none", "items": "primary", "seed": "0"}

    assert study.name in editor.get("/admin/annotation/svolink/add/").content.decode()
    assert study.name not in viewer.get("/admin/annotation/svolink/add/").content.decode()
    refused = viewer.post("/admin/annotation/svolink/add/", form)
    assert refused.status_code == 200
    assert "Select a valid choice" in refused.content.decode()
    assert not SvoLink.objects.exists()

    assert editor.post("/admin/annotation/svolink/add/", form).status_code == 302
    link = SvoLink.objects.get()
    assert link.created_by == editor_user
    change = editor.get(f"/admin/annotation/svolink/{link.pk}/change/").content.decode()
    assert 'name="_save"' not in change  # read-only once made
    assert (
        editor.post(f"/admin/annotation/svolink/{link.pk}/change/", {**form, "seed": "5"}).status_code == 403
    )
    assert editor.post(f"/admin/annotation/svolink/{link.pk}/delete/", {"post": "yes"}).status_code == 403
    link.refresh_from_db()
    assert link.seed == 0
