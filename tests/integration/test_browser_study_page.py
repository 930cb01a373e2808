"""The study page in a real browser (Debian's headless Chromium driven by Playwright) at 1366x768 and
1920x1080: the document never scrolls sideways (wide tables scroll in their own box), no number wraps onto a
second line, every contents link lands on a section, folded details open and close, and the sample-size
planner answers with a number of transcripts, or with a field error for bad input.

A missing Chromium fails this test, it never skips it.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import Browser, Page

from stats.views import PAGE_SIZE
from tests.integration.test_browser_rater import in_browser
from tests.stats.builders import add_judgments, build_study

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

VIEWPORTS = ((1366, 768), (1920, 1080))

WRAPPED_NUMBERS = """() => [...document.querySelectorAll('td.num')]
  .filter(cell => cell.getClientRects().length)  // shown (not inside a folded details)
  .filter(cell => {
    const range = document.createRange();
    range.selectNodeContents(cell);
    const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
    return lines.size > 1;
  })
  .map(cell => cell.textContent.trim())"""


def open_every_details(page: Page) -> None:
    page.evaluate("() => document.querySelectorAll('details').forEach(d => { d.open = true; })")


def check_viewport(page: Page, url: str, width: int, height: int, seen: dict[str, Any]) -> None:
    page.set_viewport_size({"width": width, "height": height})
    page.goto(url)
    key = f"{width}x{height}"
    seen[f"{key} overflow closed"] = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    seen[f"{key} height closed"] = page.evaluate("() => document.documentElement.scrollHeight")
    open_every_details(page)
    seen[f"{key} overflow open"] = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    seen[f"{key} numbers"] = page.eval_on_selector_all("td.num", "cells => cells.length")
    seen[f"{key} wrapped"] = page.evaluate(WRAPPED_NUMBERS)
    # the check sees a wrap when there is one: a number cell allowed to wrap in a narrow table
    seen[f"{key} control"] = page.evaluate(
        """(check) => { const table = document.createElement('table');
             table.innerHTML = '<tr><td class="num" style="white-space: normal">61.39 [61.39, 61.39]</td></tr>';
             table.style.width = '3em'; document.body.append(table);
             const wrapped = eval(check)(); table.remove(); return wrapped; }""",
        WRAPPED_NUMBERS,
    )
    # a table wider than the window scrolls inside its own box
    seen[f"{key} wide tables in a scroll box"] = page.evaluate(
        """() => [...document.querySelectorAll('table')].filter(t => t.getBoundingClientRect().width >
             document.documentElement.clientWidth).every(t => {
               const box = t.closest('.table-scroll');
               return box !== null && getComputedStyle(box).overflowX === 'auto';
             })"""
    )


def walk_contents(page: Page, url: str, seen: dict[str, Any]) -> None:
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(url)
    links = page.eval_on_selector_all("#contents a", "links => links.map(a => a.getAttribute('href'))")
    seen["contents"] = links
    seen["contents missing"] = [
        link for link in links if not page.evaluate("(id) => !!document.getElementById(id)", link[1:])
    ]
    landed = []
    for link in links:
        page.click(f'#contents a[href="{link}"]')
        page.wait_for_function("(hash) => location.hash === hash", arg=link)
        top = page.evaluate("(id) => document.getElementById(id).getBoundingClientRect().top", link[1:])
        at_bottom = page.evaluate("() => scrollY + innerHeight >= document.documentElement.scrollHeight - 2")
        landed.append((link, round(top), at_bottom))
        page.evaluate("() => window.scrollTo(0, 0)")
    seen["landed"] = landed


def fold_and_unfold(page: Page, seen: dict[str, Any]) -> None:
    summary = page.locator("#details-runs > summary")
    table = page.locator("#runs")
    seen["runs shown at first"] = table.is_visible()
    summary.click()
    seen["runs shown after a click"] = table.is_visible()
    seen["runs rows"] = page.eval_on_selector_all("#runs tr", "rows => rows.length")
    summary.click()
    seen["runs shown after a second click"] = table.is_visible()
    page.click("#details-cells-counts > summary")
    page.click('nav.pager[aria-label="pages of cells"] a[rel=next]')  # the pager under the cells table
    page.wait_for_url("**cells_page=2**")
    seen["second page rows"] = page.eval_on_selector_all("#automated tr", "rows => rows.length")
    seen["counts open on the second page"] = page.locator("#automated-counts").is_visible()


def use_the_planner(page: Page, url: str, seen: dict[str, Any]) -> None:
    page.goto(url + "#planner")
    seen["prefilled raters"] = page.input_value("#id_plan-raters")
    page.select_option("#id_plan-statistic", "icc")
    page.fill("#id_plan-expected", "0.7")
    page.fill("#id_plan-half_width", "0.1")
    page.fill("#id_plan-raters", "3")
    page.click("#planner-submit")
    page.wait_for_selector("#plan-n")
    seen["plan n"] = page.inner_text("#plan-n")
    seen["plan rows"] = page.eval_on_selector_all("#plan-table tr", "rows => rows.length")
    seen["planner in view"] = page.evaluate(
        "() => { const r = document.getElementById('planner').getBoundingClientRect();"
        " return r.top < window.innerHeight && r.bottom > 0; }"
    )
    page.fill("#id_plan-expected", "1.5")
    page.fill("#id_plan-raters", "1")
    page.click("#planner-submit")
    page.wait_for_selector("#error-plan-expected")
    seen["expected error"] = page.inner_text("#error-plan-expected")
    seen["raters error"] = page.inner_text("#error-plan-raters")
    seen["result after bad input"] = page.locator("#plan-result").count()


def test_the_study_page_reads_well_at_two_window_sizes(live_server: Any, user: Any) -> None:
    simulated = build_study(
        "browser",
        models=("ref-faithful", "ref-random", "ref-noisy"),
        noise={"ref-faithful": 0.1, "ref-random": 1.0, "ref-noisy": 0.4},
        trials_per_run=4,
        seed=5,
        owner=user,
        run_fields={"option_order": "fixed"},
        position_bias=0.2,
    )
    build_study(
        "",
        existing=simulated.study,
        models=("ref-noisy",),
        noise={"ref-noisy": 0.4},
        trials_per_run=4,
        seed=6,
        run_fields={"option_order": "reversed"},
        position_bias=0.2,
    )
    add_judgments(simulated, n_transcripts=20, n_raters=5, overlap=3, n_gold=2, flagged_raters=1, seed=2)
    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    url = f"{live_server.url}/studies/{simulated.study.pk}/"
    seen: dict[str, Any] = {}

    def walk(browser: Browser) -> None:
        context = browser.new_context()
        context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
        )
        page = context.new_page()
        response = page.goto(url)
        assert response is not None
        seen["status"] = response.status
        for width, height in VIEWPORTS:
            check_viewport(page, url, width, height, seen)
        walk_contents(page, url, seen)
        page.goto(url)
        fold_and_unfold(page, seen)
        use_the_planner(page, url, seen)
        context.close()

    in_browser(walk)

    assert seen["status"] == 200
    for width, height in VIEWPORTS:
        key = f"{width}x{height}"
        assert seen[f"{key} overflow closed"] == 0, key
        assert seen[f"{key} overflow open"] == 0, key
        assert seen[f"{key} numbers"] > 100, key
        assert seen[f"{key} wrapped"] == [], key
        assert seen[f"{key} control"] == ["61.39 [61.39, 61.39]"], key
        assert seen[f"{key} wide tables in a scroll box"], key
    assert seen["1920x1080 height closed"] < seen["1366x768 height closed"]
    assert len(seen["contents"]) == 10
    assert seen["contents missing"] == []
    for link, top, at_bottom in seen["landed"]:
        # the section's top is at the top of the window, or the page ends before it can scroll that far
        assert 0 <= top <= 10 or (at_bottom and 0 <= top < 768), (link, top)
    assert seen["runs shown at first"] is False
    assert seen["runs shown after a click"] is True
    assert seen["runs rows"] == PAGE_SIZE + 1  # 32 runs: a page of them
    assert seen["runs shown after a second click"] is False
    assert seen["second page rows"] == 32 - PAGE_SIZE + 1  # 24 fixed-order cells and 8 reversed
    assert seen["counts open on the second page"] is True
    assert seen["prefilled raters"] == "3"
    assert seen["plan n"].isdigit()
    assert int(seen["plan n"]) > 2
    assert seen["plan rows"] > 3
    assert seen["planner in view"] is True
    assert "less than or equal to 0.99" in seen["expected error"]
    assert "greater than or equal to 2" in seen["raters error"]
    assert seen["result after bad input"] == 0
