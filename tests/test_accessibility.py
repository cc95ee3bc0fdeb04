"""The page for everyone (WCAG 2.2 AA), in Debian's headless chromium on the real app (bundled weights, tiny jobs).

axe-core, the engine behind most accessibility checkers, audits the page at desktop and phone sizes, in light and
dark mode, before and after a job; it comes bundled with the PyPI package ``axe-playwright-python`` (a dev
requirement). The names, alt text and status announcements are checked as a screen reader gets them, and a
whole job is done with Tab, Enter and Space alone, the focus ring visible at every step.

Skipped, as ``test_browser.py`` is, only where /usr/bin/chromium is missing; ``.ci/run`` installs it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.app_server import EXAMPLES, HANG_GUARD, running_app
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, WAIT_MS, finished
from webapp.layout import STYLE_GALLERY

pytestmark = [pytest.mark.slow, pytest.mark.browser]

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
#: axe-core's default rules (WCAG 2.0-2.1 A and AA, and its best practices), and two it leaves off by default:
#: WCAG 2.2's target size (24 by 24 CSS px), and a control's name containing the text it shows (still called
#: experimental by axe; the issue's audit counted it).
AXE_OPTIONS = {
    "resultTypes": ["violations"],
    "rules": {"target-size": {"enabled": True}, "label-content-name-mismatch": {"enabled": True}},
}
#: Whether an element of the page has the focus.
FOCUSED = "document.activeElement !== null && document.activeElement !== document.body"
#: Generous: how long the page may take to move the focus after a key press.
FOCUS_MOVES_MS = 5000
#: The focused element's focus ring once its transitions have run, and the colour of the page behind it.
FOCUS_RING = """async () => {
    const element = document.activeElement;
    const finite = element.getAnimations().filter((a) => a.effect.getComputedTiming().endTime !== Infinity);
    await Promise.all(finite.map((animation) => animation.finished));
    const style = getComputedStyle(element);
    let background = "rgb(255, 255, 255)";
    for (let behind = element.parentElement; behind; behind = behind.parentElement) {
        const colour = getComputedStyle(behind).backgroundColor;
        if (colour !== "transparent" && !/, 0\\)$/.test(colour)) { background = colour; break; }
    }
    const box = element.getBoundingClientRect();
    return {
        what: `${element.tagName} ${element.getAttribute("aria-label") || element.textContent.trim().slice(0, 40)}`,
        keyboard: element.matches(":focus-visible"),
        style: style.outlineStyle,
        width: parseFloat(style.outlineWidth),
        colour: style.outlineColor,
        background,
        inView: box.bottom > 0 && box.top < innerHeight && box.right > 0 && box.left < innerWidth,
    };
}"""
#: Records every announcement of the status live region.
HEAR_ANNOUNCEMENTS = """() => {
    const region = document.querySelector('#status-announcer');
    window.heard = [];
    new MutationObserver(() => window.heard.push(region.textContent))
        .observe(region, {childList: true, characterData: true, subtree: true});
}"""
CAPTIONS = dict((Path(name).name, caption) for name, caption in STYLE_GALLERY)


@pytest.fixture(scope="module")
def app_url(studio, tmp_path_factory) -> Iterator[str]:
    with running_app(studio, queue_size=4, examples_cache=tmp_path_factory.mktemp("examples")) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        expect.set_options(timeout=WAIT_MS)
        yield browser
        browser.close()


def open_page(browser: Browser, url: str, theme: str = "light") -> Page:
    """A new tab on the app in Gradio's ``theme`` (``light`` or ``dark``), at desktop size, once it is drawn."""
    page = browser.new_page(viewport=DESKTOP)
    page.set_default_timeout(WAIT_MS)
    page.goto(f"{url}?__theme={theme}")
    expect(page.locator("#stylize")).to_be_visible()
    # Named by the page's script once the gallery is drawn.
    expect(page.get_by_role("button", name=STYLE_GALLERY[0][1], exact=True)).to_be_visible()
    return page


def serious_violations(page: Page) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now, one line per element."""
    violations = Axe().run(page, options=AXE_OPTIONS).response["violations"]
    return [
        f"{violation['id']} ({violation['impact']}) at {node['target']}: {node['failureSummary']}"
        for violation in violations
        if violation["impact"] in ("serious", "critical")
        for node in violation["nodes"]
    ]


def audit_at_both_sizes(page: Page) -> None:
    """No serious or critical violation at phone size nor at desktop size, and no sideways scrolling at either."""
    for size in (PHONE, DESKTOP):
        page.set_viewport_size(size)
        page.wait_for_timeout(300)  # the layout settles
        assert page.evaluate("document.documentElement.scrollWidth") <= size["width"], size
        assert serious_violations(page) == [], size


def contrast(first: str, second: str) -> float:
    """The WCAG contrast ratio of two CSS ``rgb(...)`` colours."""

    def luminance(colour: str) -> float:
        red, green, blue = (int(part) / 255 for part in re.findall(r"[\d.]+", colour)[:3])
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (red, green, blue)]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    lighter, darker = sorted((luminance(first), luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def press(page: Page, key: str) -> None:
    """Press ``key``; the element that then has focus shows a keyboard focus ring of at least 2 px, in a colour of
    at least 3:1 against the page behind it, on screen."""
    page.keyboard.press(key)
    try:  # the page may move the focus a moment later (as when a menu closes)
        page.wait_for_function(FOCUSED, timeout=FOCUS_MOVES_MS)
    except PlaywrightTimeoutError:
        raise AssertionError(f"{key} left the focus on no element") from None
    ring = page.evaluate(FOCUS_RING)
    assert ring["keyboard"] and ring["inView"], ring
    assert ring["style"] not in ("none", "hidden") and ring["width"] >= 2, ring
    assert contrast(ring["colour"], ring["background"]) >= 3, ring


def tab_to(page: Page, target: Locator, *, back: bool = False, most: int = 120) -> None:
    """Tab (Shift+Tab when ``back``) until ``target`` has the focus, checking the focus ring at every step."""
    for _ in range(most):
        press(page, "Shift+Tab" if back else "Tab")
        if target.evaluate("element => element === document.activeElement"):
            return
    raise AssertionError(f"{most} presses of Tab never reached {target}")


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_axe_finds_no_serious_violation_before_or_after_a_job(browser, app_url, theme):
    page = open_page(browser, app_url, theme)
    assert page.evaluate("document.querySelector('.dark') !== null") == (theme == "dark")
    audit_at_both_sizes(page)

    page.locator("#content-image input[type=file]").set_input_files(EXAMPLES / "coffee.jpg")
    page.locator("#style-image input[type=file]").set_input_files(EXAMPLES / "style_swirls.jpg")
    expect(page.locator("#style-image .image-frame img")).to_be_visible()
    page.evaluate(HEAR_ANNOUNCEMENTS)
    page.get_by_role("button", name="Stylize", exact=True).click()
    expect(page.locator("#status")).to_contain_text("Done")
    finished(page)
    for panel in ("#second-style-panel", "#advanced", "#regions-panel", "#mask-files"):
        page.locator(f"{panel} > button.label-wrap").click()
    expect(page.locator("#option-iterations")).to_be_visible()
    expect(page.locator("#regions canvas").first).to_be_visible()
    audit_at_both_sizes(page)

    # What a screen reader says of the results, and what it heard while the job ran: the phases, not each step.
    repainted = f"repainted in the style of {CAPTIONS['style_swirls.jpg']}"
    expect(page.locator("#result .image-frame img")).to_have_attribute("alt", f"The photo {repainted}")
    slider = page.locator("#before-after img[data-testid='imageslider-image']")
    expect(slider.first).to_have_attribute("alt", "Before: the photo")
    expect(slider.last).to_have_attribute("alt", f"After: the photo {repainted}")
    video = page.locator("#progress-video video")
    expect(video).to_have_attribute("aria-label", f"Progress video: the photo {repainted}, preview by preview")
    # The result's download link, one target named by what it downloads (Gradio: a link around a button).
    with page.expect_download() as download:
        page.get_by_role("link", name="Download: Result", exact=True).click()
    assert download.value.suggested_filename.endswith(".png")
    announcer = page.locator("#status-announcer")
    expect(announcer).to_have_attribute("role", "status")
    expect(announcer).to_have_attribute("aria-live", "polite")
    heard = page.evaluate("window.heard")
    assert [line for line in heard if line.startswith("Painting")] == [
        "Painting… scale 1 of 2",
        "Painting… scale 2 of 2",
    ], heard
    assert heard[-1].startswith("Done in") and len(heard) <= 4, heard
    page.close()


def test_the_controls_are_named_by_what_they_show(browser, app_url):
    page = open_page(browser, app_url)
    for _, caption in STYLE_GALLERY:
        expect(page.locator("#style-gallery").get_by_role("button", name=caption, exact=True)).to_have_count(1)
    for box, label in (("#content-image", "Content: your photo"), ("#style-image", "Style: a painting")):
        expect(page.locator(box).get_by_role("button", name=re.compile(rf"^{label}: Drop Image Here"))).to_be_visible()
    expect(page.get_by_role("button", name="Stop", exact=True)).to_be_visible()
    page.locator("#regions-panel > button.label-wrap").click()
    layers = page.locator("#regions").get_by_role("button", name="Layers: First style")
    layers.click()
    for layer in ("First style", "Second style", "Keep the photo"):
        expect(page.locator("#regions").get_by_role("button", name=layer, exact=True)).to_be_visible()
        expect(page.get_by_role("button", name=f"Show or hide {layer}")).to_be_visible()
    expect(page.get_by_role("button", name="Move Second style up")).to_be_visible()
    assert serious_violations(page) == []  # the open layer list too
    page.close()


def test_a_whole_job_by_keyboard_with_the_focus_always_visible(browser, app_url, studio):
    page = open_page(browser, app_url)

    # Upload the photo: the upload area opens the file chooser on Space (Gradio's upload ignores Enter). The wait
    # for the chooser starts before the Tabs: Playwright turns on its interception of file choosers asynchronously,
    # and a Space pressed at once could reach the page before that (the chooser then opens natively, unseen).
    with page.expect_file_chooser() as chooser:
        tab_to(page, page.locator("#content-image button.upload-container"))
        page.keyboard.press("Space")
    chooser.value.set_files(EXAMPLES / "coffee.jpg")
    expect(page.locator("#content-image .image-frame img")).to_be_visible()

    # Choose a painting from the gallery with Space.
    name, caption = STYLE_GALLERY[2]
    tab_to(page, page.locator("#style-gallery").get_by_role("button", name=caption, exact=True))
    press(page, "Space")
    expect(page.locator("#style-image .image-frame img")).to_have_attribute("src", re.compile(rf"{Path(name).name}$"))

    # Open Advanced.
    tab_to(page, page.locator("#advanced > button.label-wrap"))
    press(page, "Enter")
    expect(page.locator("#option-iterations")).to_be_visible()

    # Another job holds the device (as in test_memory_planning): this one waits, and Stop (Space) ends the wait.
    page.evaluate(HEAR_ANNOUNCEMENTS)
    stylize = page.locator("#stylize")
    assert studio._device.acquire(timeout=HANG_GUARD)
    try:
        tab_to(page, stylize, back=True)
        press(page, "Enter")
        expect(page.locator("#status")).to_contain_text("Waiting…")
        tab_to(page, page.locator("#stop"))
        press(page, "Space")
        expect(page.locator("#status")).to_contain_text("Stopped before the first iteration")
    finally:
        studio._device.release()
    finished(page)
    heard = page.evaluate("window.heard")
    assert heard[0].startswith("Waiting…") and heard[-1] == "Stopped before the first iteration.", heard

    # Stylize (Enter) and wait for the picture.
    begun = studio.meter.jobs_begun
    tab_to(page, stylize, back=True)
    press(page, "Enter")
    expect(page.locator("#status")).to_contain_text("Done")
    finished(page)
    assert studio.meter.jobs_begun == begun + 1
    expect(page.locator("#result .image-frame img")).to_have_attribute(
        "alt", f"The photo repainted in the style of {caption}"
    )

    # Download the PNG (Enter on its link).
    tab_to(page, page.locator("#download a.download-link"))
    with page.expect_download() as download:
        page.keyboard.press("Enter")
    assert download.value.suggested_filename.startswith("coffee-stylized-")

    # Open Regions, paint on the second style's layer (chosen from the layer menu), then Tab on out of the
    # editor: no trap.
    tab_to(page, page.locator("#regions-panel > button.label-wrap"))
    press(page, "Enter")
    layers = page.locator("#regions").get_by_role("button", name="Layers: First style")
    expect(layers).to_be_visible()
    tab_to(page, layers)
    press(page, "Enter")
    second = page.locator("#regions").get_by_role("button", name="Second style", exact=True)
    expect(second).to_be_visible()
    tab_to(page, second)
    press(page, "Enter")
    expect(page.locator("#regions").get_by_role("button", name="Layers: Second style")).to_be_visible()
    tab_to(page, page.locator("#how-it-works > button.label-wrap"))
    press(page, "Enter")
    expect(page.get_by_text("A network trained to recognise objects")).to_be_visible()
    page.close()
