"""People taking the SVO slider through a participant link: the form contract, scoring by the models' scorer
under either slider direction, nothing stored twice, balanced induction, and a retest for the same person only."""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connections
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from annotation import participant_selectors as selectors
from annotation import participant_services as services
from annotation.models import Participant, SvoItemAnswer, SvoLink, SvoResponseSet
from evaluation import prompts, svo
from evaluation.models import Study

PATTERN = {1: 1, 2: 9, 3: 9, 4: 1, 5: 5, 6: 9}


def join_url(link: SvoLink) -> str:
    return reverse("svo-join", kwargs={"token": selectors.svo_link_token(link=link)})


def items_url(link: SvoLink) -> str:
    return reverse("svo-items", kwargs={"token": selectors.svo_link_token(link=link)})


def retest_items_url(participant: Participant) -> str:
    return reverse("svo-retest-items", kwargs={"token": selectors.retest_token(participant=participant)})


def admitted(client: Client, link: SvoLink, query: str = "") -> Participant:
    client.get(join_url(link) + query)
    response = client.post(join_url(link) + query, {"consent": "yes"})
    assert response.status_code == 302
    return Participant.objects.get(pk=client.session["hvae_svo_participant"])


def answers(pattern: dict[int, int], **extra: Any) -> dict[str, Any]:
    return {**{f"item_{n}": str(option) for n, option in pattern.items()}, **extra}


@pytest.fixture
def link(study: Study) -> SvoLink:
    return services.svo_link_create(study=study, retest_after_hours=24)


def test_consent_is_recorded_with_time_and_version_and_platform_ids(link: SvoLink) -> None:
    client = Client()
    participant = admitted(client, link, "?PROLIFIC_PID=p-1&STUDY_ID=s-1&SESSION_ID=x-1")

    assert participant.participant_id == "p-1"
    assert participant.platform_study_id == "s-1"
    assert participant.platform_session_id == "x-1"
    assert participant.consented_at is not None
    assert participant.consent_version == link.study.consent_version


def test_declining_consent_admits_nobody(link: SvoLink) -> None:
    client = Client()
    client.get(join_url(link))
    response = client.post(join_url(link), {})

    assert "did not agree" in response.content.decode()
    assert not Participant.objects.exists()


def test_an_invalid_link_is_refused(db: None) -> None:
    response = Client().get(reverse("svo-join", kwargs={"token": "not-a-signed-token"}))

    assert response.status_code == 404


def test_the_page_shows_native_sliders_with_spoken_payoffs(link: SvoLink) -> None:
    client = Client()
    participant = admitted(client, link)
    page = client.get(items_url(link)).content.decode()

    sliders = re.findall(r'<input type="range" name="item_(\d+)"[^>]*min="1" max="9" step="1"', page)
    assert sorted(int(n) for n in sliders) == [1, 2, 3, 4, 5, 6]
    assert sliders == [str(n) for n in selectors.item_order(participant=participant, wave=1)]
    # Item 6 runs from I (100, 50) to P (85, 85): its middle stop (option 5) is (93, 68) after rounding half-up.
    assert 'aria-valuetext="you receive 93, the other person receives 68"' in page
    assert 'name="csrfmiddlewaretoken"' in page


@pytest.mark.parametrize("reversed_slider", [False, True])
def test_scores_equal_score_primary_on_the_same_choices_under_either_direction(
    link: SvoLink, reversed_slider: bool
) -> None:
    client = Client()
    participant = admitted(client, link)
    Participant.objects.filter(pk=participant.pk).update(reversed_slider=reversed_slider)
    page = client.get(items_url(link)).content.decode()
    assert ('dir="rtl"' in page) is reversed_slider

    response = client.post(items_url(link), answers(PATTERN))

    assert response.status_code == 302
    stored = SvoResponseSet.objects.get(participant=participant, wave=1)
    expected = svo.score_primary([PATTERN[n] for n in range(1, 7)])
    assert stored.angle == pytest.approx(expected.angle)
    assert stored.category == expected.category
    assert stored.transitive is expected.transitive
    assert stored.definitions_version == svo.DEFINITIONS_VERSION
    assert {a.item: a.option for a in stored.answers.all()} == PATTERN
    assert {a.reversed_slider for a in stored.answers.all()} == {reversed_slider}
    assert {a.item: a.stop_from_left for a in stored.answers.all()} == {
        n: (10 - o if reversed_slider else o) for n, o in PATTERN.items()
    }
    order = selectors.item_order(participant=participant, wave=1)
    assert [a.item for a in stored.answers.order_by("position")] == order


def test_reversed_sliders_show_option_nine_on_the_left(link: SvoLink) -> None:
    client = Client()
    participant = admitted(client, link)
    Participant.objects.filter(pk=participant.pk).update(reversed_slider=True)
    participant.refresh_from_db()

    slider = selectors.slider_items(participant=participant, wave=1)[0]

    assert [stop.option for stop in slider.stops] == list(range(9, 0, -1))


def test_a_second_submission_is_refused_and_nothing_is_stored_twice(link: SvoLink) -> None:
    client = Client()
    admitted(client, link)
    client.get(items_url(link))
    assert client.post(items_url(link), answers(PATTERN)).status_code == 302

    again = client.post(items_url(link), answers(dict.fromkeys(PATTERN, 5)))

    assert again.status_code == 409
    assert "already recorded" in again.content.decode()
    assert SvoResponseSet.objects.count() == 1
    assert SvoItemAnswer.objects.count() == 6
    assert set(SvoItemAnswer.objects.values_list("option", flat=True)) == set(PATTERN.values())


def test_the_database_refuses_a_second_response_set_for_a_wave(link: SvoLink) -> None:
    client = Client()
    participant = admitted(client, link)
    services.svo_responses_submit(participant=participant, wave=1, submission=services.Submission(PATTERN))

    with pytest.raises(services.AlreadySubmitted):
        services.svo_responses_submit(
            participant=participant, wave=1, submission=services.Submission(PATTERN)
        )
    assert SvoResponseSet.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"item_3": "10"}, "item_3", "from 1 to 9"),
        ({"item_3": "0"}, "item_3", "from 1 to 9"),
        ({"item_3": "abc"}, "item_3", "from 1 to 9"),
        ({"item_3": ["4", "5"]}, "item_3", "More than one answer"),
        ({"item_3": None}, "item_3", "No answer"),
        ({"item_16": "3"}, "item_16", "not an item on this page"),
        ({"time_3": "nan"}, "time_3", "seconds from 0 to 3600"),
        ({"time_3": "-1"}, "time_3", "seconds from 0 to 3600"),
        ({"time_3": "3600.5"}, "time_3", "seconds from 0 to 3600"),
        ({"time_3": "inf"}, "time_3", "seconds from 0 to 3600"),
    ],
)
def test_bad_submissions_get_the_page_back_with_the_error_named_and_store_nothing(
    link: SvoLink, change: dict[str, Any], field: str, message: str
) -> None:
    client = Client()
    admitted(client, link)
    data: dict[str, Any] = answers(PATTERN)
    for key, value in change.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value

    response = client.post(items_url(link), data)

    page = response.content.decode()
    assert response.status_code == 400
    assert f'<span class="field">{field}</span>' in page
    assert message in page
    assert not SvoResponseSet.objects.exists()
    assert not SvoItemAnswer.objects.exists()


def test_item_times_come_from_the_browser_timestamps(link: SvoLink) -> None:
    client = Client()
    participant = admitted(client, link)
    times = {1: 3.0, 2: 7.5, 3: 9.0, 4: 15.0, 5: 20.0, 6: 22.0}

    client.post(items_url(link), answers(PATTERN, **{f"time_{n}": str(t) for n, t in times.items()}))

    stored = SvoResponseSet.objects.get(participant=participant)
    seconds = {a.item: a.seconds for a in stored.answers.all()}
    assert seconds == {1: 3.0, 2: 4.5, 3: 1.5, 4: 6.0, 5: 5.0, 6: 2.0}
    assert stored.median_item_seconds == pytest.approx(3.75)
    assert stored.too_fast is False
    assert stored.straight_lined is False


def test_straight_lining_and_rushing_are_flagged(link: SvoLink) -> None:
    client = Client()
    participant = admitted(client, link)

    client.post(
        items_url(link), answers(dict.fromkeys(PATTERN, 9), **{f"time_{n}": str(0.5 * n) for n in PATTERN})
    )

    stored = SvoResponseSet.objects.get(participant=participant)
    assert stored.straight_lined is True
    assert stored.too_fast is True
    assert stored.median_item_seconds == pytest.approx(0.5)


def test_all_fifteen_items_are_scored_with_the_secondary_index(study: Study) -> None:
    link = services.svo_link_create(study=study, items="all", induce="prosocial")
    client = Client()
    participant = admitted(client, link)
    pattern = {n: svo.ideal_choices("prosocial", svo.ALL_ITEMS)[n - 1] for n in range(1, 16)}

    assert client.post(items_url(link), answers(pattern)).status_code == 302

    stored = SvoResponseSet.objects.get(participant=participant)
    choices = [pattern[n] for n in range(1, 16)]
    expected = svo.score_value("prosocial", choices)
    assert stored.value == "prosocial"
    assert stored.value_rationality == pytest.approx(expected.value_rationality)
    assert stored.category_hit is expected.category_hit
    assert stored.inequality_aversion == svo.score_secondary(choices[6:]).inequality_aversion
    assert stored.answers.count() == 15


def test_the_induced_value_is_described_with_the_models_text(study: Study) -> None:
    link = services.svo_link_create(study=study, induce="competitive")
    client = Client()
    admitted(client, link)

    page = client.get(reverse("svo-instructions", kwargs={"token": selectors.svo_link_token(link=link)}))

    assert escape(prompts.VALUE_DEFINITIONS["competitive"]) in page.content.decode()
    assert "Worked example" in page.content.decode()


def test_random_induction_fills_the_arms_evenly_and_balances_directions(study: Study) -> None:
    link = services.svo_link_create(study=study, induce="random", seed=7)

    for k in range(40):
        services.participant_join(link=link, participant_id=f"p{k}")

    assert selectors.participants_in_arms(link=link) == dict.fromkeys(svo.VALUES, 10)
    assert link.participants.filter(reversed_slider=True).count() == 20
    # At every admission no arm is ahead of another by more than one.
    values = list(link.participants.order_by("pk").values_list("assigned_value", flat=True))
    for n in range(1, len(values) + 1):
        counts = [values[:n].count(v) for v in svo.VALUES]
        assert max(counts) - min(counts) <= 1


def test_the_quota_closes_the_link_to_new_people(study: Study) -> None:
    link = services.svo_link_create(study=study, quota=1)
    admitted(Client(), link)

    other = Client()
    other.get(join_url(link))
    response = other.post(join_url(link), {"consent": "yes"})

    assert response.status_code == 410
    assert Participant.objects.count() == 1


def test_a_returning_prolific_participant_is_the_same_participant(link: SvoLink) -> None:
    first = admitted(Client(), link, "?PROLIFIC_PID=same")
    again = admitted(Client(), link, "?PROLIFIC_PID=same")

    assert first.pk == again.pk


def test_completion_code_and_return_link_after_the_first_wave(link: SvoLink) -> None:
    Study.objects.filter(pk=link.study_id).update(
        completion_code="C0DE", completion_url="https://platform.test/submissions/complete"
    )
    client = Client()
    admitted(client, link)
    response = client.post(items_url(link), answers(PATTERN), follow=True)

    page = response.content.decode()
    assert "C0DE" in page
    assert "https://platform.test/submissions/complete?cc=C0DE" in page
    assert 'id="retest-link"' in page


def _open_retest(participant: Participant) -> None:
    SvoResponseSet.objects.filter(participant=participant, wave=1).update(
        submitted_at=SvoResponseSet.objects.get(participant=participant, wave=1).submitted_at
        - timedelta(hours=25)
    )


def test_the_retest_opens_after_the_interval_for_the_same_participant(link: SvoLink) -> None:
    client = Client()
    participant = admitted(client, link)
    client.post(items_url(link), answers(PATTERN))
    retest = reverse("svo-retest", kwargs={"token": selectors.retest_token(participant=participant)})

    assert 'id="not-yet"' in client.get(retest).content.decode()
    assert client.post(retest_items_url(participant), answers(PATTERN)).status_code == 302
    assert not SvoResponseSet.objects.filter(wave=2).exists()

    _open_retest(participant)
    assert 'id="begin"' in client.get(retest).content.decode()
    client.get(retest_items_url(participant))
    assert client.post(retest_items_url(participant), answers(dict.fromkeys(PATTERN, 5))).status_code == 302
    second = SvoResponseSet.objects.get(participant=participant, wave=2)
    assert second.angle == pytest.approx(svo.score_primary([5] * 6).angle)
    assert client.post(retest_items_url(participant), answers(PATTERN)).status_code == 409
    assert SvoResponseSet.objects.filter(wave=2).count() == 1


def test_a_retest_from_another_participants_link_is_refused(link: SvoLink) -> None:
    alice, bob = Client(), Client()
    a = admitted(alice, link, "?PROLIFIC_PID=alice")
    admitted(bob, link, "?PROLIFIC_PID=bob")
    alice.post(items_url(link), answers(PATTERN))
    bob.post(items_url(link), answers(PATTERN))
    _open_retest(a)
    retest = reverse("svo-retest", kwargs={"token": selectors.retest_token(participant=a)})

    assert bob.get(retest).status_code == 403
    assert bob.post(retest_items_url(a), answers(PATTERN)).status_code == 403
    # A fresh browser needs the owner's platform id; another id is refused too.
    assert Client().get(retest).status_code == 403
    assert Client().get(retest + "?PROLIFIC_PID=bob").status_code == 403
    assert not SvoResponseSet.objects.filter(wave=2).exists()
    assert Client().get(retest + "?PROLIFIC_PID=alice").status_code == 200


def test_a_tampered_retest_link_is_refused(link: SvoLink) -> None:
    client = Client()
    participant = admitted(client, link)
    token = selectors.retest_token(participant=participant)

    assert client.get(reverse("svo-retest", kwargs={"token": token[:-3] + "abc"})).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_simultaneous_submissions_of_one_wave_store_one_response_set(study: Study) -> None:
    link = services.svo_link_create(study=study)
    participant, _ = services.participant_join(link=link, participant_id="double-click")
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def submit() -> None:
        barrier.wait()
        try:
            services.svo_responses_submit(
                participant=participant, wave=1, submission=services.Submission(PATTERN)
            )
            outcomes.append("stored")
        except services.AlreadySubmitted:
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["refused", "refused", "refused", "stored"]
    assert SvoResponseSet.objects.count() == 1
    assert SvoItemAnswer.objects.count() == 6
