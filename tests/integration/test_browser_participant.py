"""People take the SVO slider in a real browser (Debian's headless Chromium driven by Playwright), with the
keyboard only: participant link with Prolific ids, consent, value description, the sliders (one participant
with each slider direction), completion code, and the retest, which another participant's browser is refused.

A missing Chromium fails this test, it never skips it.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from annotation import participant_selectors as selectors
from annotation import participant_services as services
from annotation.models import Participant, SvoResponseSet
from evaluation import prompts, svo
from tests.annotation.factories import make_design_study
from tests.integration.test_browser_rater import in_browser

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

WAVE_1 = {1: 1, 2: 9, 3: 9, 4: 1, 5: 5, 6: 9}
WAVE_2 = {1: 2, 2: 8, 3: 9, 4: 1, 5: 6, 6: 9}


def tab_to(page: Page, selector: str, limit: int = 40) -> None:
    """Press Tab until the element matching ``selector`` has the focus (keyboard only, like a person)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement === document.querySelector(s)", selector):
            return
    pytest.fail(
        f"Tab never reached {selector}; focus is on {page.evaluate('document.activeElement.outerHTML')}"
    )


def answer_items(page: Page, answers: dict[int, int], seen: dict[str, Any]) -> None:
    """Reach every slider with Tab in page order and set it with the keys: Home, then ArrowUp (one option up,
    whatever the display direction). Records what the screen reader would announce."""
    page.wait_for_selector("#decisions")
    order = page.eval_on_selector_all("#decisions input[type=range]", "els => els.map(e => e.name)")
    seen.setdefault("orders", []).append(order)
    for name in order:
        number = int(name.split("_")[1])
        tab_to(page, f"input[name={name}]")
        page.keyboard.press("Home")
        for _ in range(answers[number] - 1):
            page.keyboard.press("ArrowUp")
        seen.setdefault("announced", {})[(page.url, number)] = page.get_attribute(
            f"input[name={name}]", "aria-valuetext"
        )
        seen.setdefault("shown", {})[(page.url, number)] = page.inner_text(f"#payoff-{number}")
    tab_to(page, "#submit")
    page.keyboard.press("Enter")


def take_part(browser: Browser, url: str, seen: dict[str, Any], name: str) -> Page:
    context = browser.new_context()
    page = context.new_page()
    page.goto(url)
    tab_to(page, "#consent")
    page.keyboard.press("Space")
    tab_to(page, "#agree")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Worked example")
    seen[f"{name}-induction"] = page.inner_text("#value-definition")
    tab_to(page, "#begin")
    page.keyboard.press("Enter")
    direction = page.get_attribute("#decisions input[type=range]", "dir")
    seen[f"{name}-direction"] = direction
    # Under version B the slider runs the other way on screen: ArrowRight moves the thumb right, to a lower
    # option (option 9 is on the left).
    first = page.eval_on_selector("#decisions input[type=range]", "e => e.name")
    tab_to(page, f"input[name={first}]")
    before = int(page.input_value(f"input[name={first}]"))
    page.keyboard.press("ArrowRight")
    seen[f"{name}-arrow-right"] = int(page.input_value(f"input[name={first}]")) - before
    page.keyboard.press("Shift+Tab")
    answer_items(page, WAVE_1, seen)
    page.wait_for_selector("#completion-code")
    seen[f"{name}-code"] = page.inner_text("#completion-code")
    return page


def test_people_take_the_slider_and_the_retest_with_the_keyboard_only(
    live_server: Any, settings: Any
) -> None:
    settings.HVAE_PUBLIC_URL = live_server.url
    study = make_design_study()
    study.completion_code = "SVO-42"
    study.save(update_fields=["completion_code"])
    link = services.svo_link_create(study=study, induce="individualistic", retest_after_hours=0)
    url = selectors.svo_link_url(link=link)
    seen: dict[str, Any] = {}

    def walk(browser: Browser) -> None:
        alice = take_part(browser, url + "?PROLIFIC_PID=alice&STUDY_ID=s&SESSION_ID=x", seen, "alice")
        bob = take_part(browser, url + "?PROLIFIC_PID=bob&STUDY_ID=s&SESSION_ID=y", seen, "bob")
        # Bob opens Alice's personal retest link in his own browser: refused.
        alice_retest = alice.get_attribute("#retest-link", "href")
        assert alice_retest
        seen["bob-on-alice-retest"] = bob.goto(alice_retest).status  # type: ignore[union-attr]
        # Alice follows her own retest link from her completion page.
        tab_to(alice, "#retest-link")
        alice.keyboard.press("Enter")
        alice.wait_for_selector("text=Welcome back")
        tab_to(alice, "#begin")
        alice.keyboard.press("Enter")
        answer_items(alice, WAVE_2, seen)
        alice.wait_for_selector("#finished")
        seen["alice-after-retest"] = alice.inner_text("#finished")

    in_browser(walk)

    alice = Participant.objects.get(participant_id="alice")
    bob = Participant.objects.get(participant_id="bob")
    assert seen["alice-induction"] == prompts.VALUE_DEFINITIONS["individualistic"]
    assert {alice.reversed_slider, bob.reversed_slider} == {False, True}
    for person in (alice, bob):
        name = person.participant_id
        assert seen[f"{name}-direction"] == ("rtl" if person.reversed_slider else None)
        assert seen[f"{name}-arrow-right"] == (-1 if person.reversed_slider else 1)
        assert seen[f"{name}-code"] == "SVO-42"
        first = SvoResponseSet.objects.get(participant=person, wave=1)
        assert {a.item: a.option for a in first.answers.all()} == WAVE_1
        assert first.angle == pytest.approx(svo.score_primary([WAVE_1[n] for n in range(1, 7)]).angle)
        assert all(a.changed_at is not None and 0 <= a.changed_at <= 3600 for a in first.answers.all())
        assert first.page_seconds is not None
        shown = [f"item_{a.item}" for a in first.answers.order_by("position")]
        assert shown in seen["orders"]
    second = SvoResponseSet.objects.get(participant=alice, wave=2)
    assert {a.item: a.option for a in second.answers.all()} == WAVE_2
    assert not SvoResponseSet.objects.filter(participant=bob, wave=2).exists()
    assert seen["bob-on-alice-retest"] == 403
    assert "in both sessions" in seen["alice-after-retest"]
    # What a screen reader announced for each slider is the payoff pair of the chosen option.
    for (url, number), text in seen["announced"].items():
        chosen = (WAVE_2 if "/retest/" in url else WAVE_1)[number]
        own, other = svo.ITEMS_BY_NUMBER[number].allocation(chosen)
        assert text == f"you receive {own}, the other person receives {other}"
    item_6 = svo.ITEMS_BY_NUMBER[6].allocation(WAVE_1[6])
    assert f"you receive {item_6[0]}, the other person receives {item_6[1]}" in seen["announced"].values()
    assert any(f"You receive {item_6[0]}" in text for text in seen["shown"].values())


def test_the_form_works_without_javascript(live_server: Any, settings: Any) -> None:
    settings.HVAE_PUBLIC_URL = live_server.url
    link = services.svo_link_create(study=make_design_study())
    url = selectors.svo_link_url(link=link)
    seen: dict[str, Any] = {}

    def walk(browser: Browser) -> None:
        page = browser.new_context(java_script_enabled=False).new_page()
        page.goto(url)
        tab_to(page, "#consent")
        page.keyboard.press("Space")
        tab_to(page, "#agree")
        page.keyboard.press("Enter")
        page.wait_for_selector("text=Worked example")
        tab_to(page, "#begin")
        page.keyboard.press("Enter")
        seen["stops"] = page.inner_text("#item-1 table.stops")
        answer_items(page, WAVE_1, seen)
        page.wait_for_selector("#finished")

    in_browser(walk)

    response = SvoResponseSet.objects.get()
    assert {a.item: a.option for a in response.answers.all()} == WAVE_1
    assert all(a.changed_at is None for a in response.answers.all())  # the script that stamps times is off
    assert response.page_seconds is not None
    assert response.median_item_seconds == pytest.approx(response.page_seconds / 6)
    # Without the script the server-rendered table still shows every stop's payoffs.
    item = svo.ITEMS_BY_NUMBER[1]
    assert all(str(item.allocation(option)[0]) in seen["stops"] for option in range(1, 10))
