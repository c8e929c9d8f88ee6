"""End to end in headless Chromium (Debian's package, driven by Playwright): the app loads, a user
picks an example and two methods and sees both maps with their scores; a class name holding HTML
is shown as text; no console errors; a screenshot is saved under the test output (out/tests)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
playwright = pytest.importorskip("playwright.sync_api")

from tests.insights.conftest import EVIL_CLASS, visualizer  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
OUTPUT = Path(os.environ.get("VERACITY_TEST_OUT", Path(__file__).resolve().parents[2] / "out" / "tests"))


@pytest.fixture(scope="module")
def page() -> Iterator[tuple[Any, str, list[str]]]:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: `make test` installs it (apt-get install chromium)")
        pytest.skip("chromium is not installed (make test installs it)")
    app = visualizer()
    url = app.serve(port=None, blocking=False)
    errors: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        tab = browser.new_page(viewport={"width": 1280, "height": 900})
        tab.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        tab.on("pageerror", lambda e: errors.append(f"page error: {e}"))
        tab.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
        tab.set_default_timeout(20000)
        try:
            yield tab, url, errors
        finally:
            browser.close()
            app.stop()


def test_pick_an_example_and_two_methods(page: tuple[Any, str, list[str]]) -> None:
    tab, url, errors = page
    tab.goto(url)
    tab.wait_for_selector("#examples .example")
    assert tab.locator("#examples .example").count() == 12

    # the class whose name is HTML: shown as text in the filters and on the thumbnails, never run
    tab.select_option("#filter-true", "2")
    playwright.expect(tab.locator("#examples .example")).to_have_count(4)
    option = tab.locator("#filter-true option[value='2']")
    assert option.text_content() == EVIL_CLASS
    thumb = tab.locator("#examples .example").first
    assert thumb.locator(".true-label").text_content() == "true: " + EVIL_CLASS
    assert tab.locator("img").count() == 0 and tab.evaluate("window.__pwned === undefined")

    thumb.click()
    assert EVIL_CLASS in tab.locator("#selected-text").text_content()
    tab.check("#method-Saliency")
    tab.check("#method-IntegratedGradients")
    tab.fill("#arg-IntegratedGradients-n_steps", "16")
    tab.click("#attribute")
    tab.wait_for_selector(".result >> nth=1")
    cards = tab.locator(".result")
    assert [cards.nth(i).locator("h3").text_content() for i in range(2)] == ["Saliency", "IntegratedGradients"]
    for i in range(2):
        card = cards.nth(i)
        assert card.locator("canvas.map").count() == 1 and card.locator(".colorbar").count() == 1
        rows = card.locator("table.scores tr")
        assert rows.count() == 5  # header + sparseness, faithfulness, max-sensitivity, randomisation
        verdicts = [rows.nth(r).locator("td").nth(3).text_content() for r in range(1, 5)]
        assert all(v in ("pass", "fail", "inconclusive", "not run", "descriptive") for v in verdicts)
    assert "n_steps=16" in cards.nth(1).text_content()
    assert "explained example" in tab.locator("#status").text_content()

    OUTPUT.mkdir(parents=True, exist_ok=True)
    shot = OUTPUT / "insights.png"
    tab.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:4] == b"\x89PNG"

    # a bad request from the page is shown as a message, not a crash
    tab.fill("#arg-IntegratedGradients-n_steps", "100000")
    tab.click("#attribute")
    playwright.expect(tab.locator("#status")).to_have_class("error")
    assert "n_steps" in tab.locator("#status").text_content()
    errors[:] = [e for e in errors if "400" not in e]  # the refused request itself is logged by Chromium
    assert errors == []
