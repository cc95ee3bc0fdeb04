"""The page on a phone: Debian's headless chromium as a touch phone (390×844, ``is_mobile``, ``has_touch``) on the
real app (bundled weights, tiny jobs): no sideways scrolling at phone and tablet widths, the inputs one above the
other, touch-sized controls, the result and its status brought into view once a job starts, and a photo taken with
the (fake) camera.

Skipped, as ``test_browser.py`` is, only where /usr/bin/chromium is missing; ``.ci/run`` installs it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.app_server import EXAMPLES
from tests.test_accessibility import app_url  # noqa: F401 (the same served app, as a fixture)
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, WAIT_MS, finished
from webapp.phone import TOUCH_TARGET

pytestmark = [pytest.mark.slow, pytest.mark.browser]

PHONE = {"width": 390, "height": 844}
#: Portrait phones from the narrowest in common use to the widest, then a tablet held both ways.
WIDTHS = [(360, 740), (390, 844), (430, 932), (768, 1024), (1024, 768)]
#: A camera that needs no hardware and no permission prompt: chromium's fake device (a moving test pattern).
FAKE_CAMERA = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
#: Whether the element's box lies wholly inside the window (its top at least 0, its bottom at most the height).
IN_VIEW = """(selector) => {
    const box = document.querySelector(selector).getBoundingClientRect();
    return box.height > 0 && box.top >= -1 && box.bottom <= innerHeight + 1;
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS + FAKE_CAMERA)
        expect.set_options(timeout=WAIT_MS)
        yield browser
        browser.close()


@pytest.fixture
def phone(browser, app_url) -> Iterator[Page]:  # noqa: F811 (app_url: the imported fixture)
    """A fresh tab on the app, as a touch phone that lets the page use its camera."""
    context = browser.new_context(
        viewport=PHONE, device_scale_factor=3, is_mobile=True, has_touch=True, permissions=["camera"]
    )
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(app_url)
    expect(page.locator("#stylize")).to_be_visible()
    yield page
    context.close()


def box(page: Page, selector: str) -> dict[str, float]:
    return page.locator(selector).first.bounding_box()


def test_no_sideways_scrolling_at_phone_and_tablet_widths_and_the_phone_layout_stacks(phone):
    for width, height in WIDTHS:
        phone.set_viewport_size({"width": width, "height": height})
        phone.wait_for_timeout(300)  # the layout settles
        assert phone.evaluate("document.documentElement.scrollWidth") <= width, width
        gallery = box(phone, "#style-gallery")
        assert gallery["x"] >= 0 and gallery["x"] + gallery["width"] <= width, (width, gallery)
    phone.set_viewport_size(PHONE)
    phone.wait_for_timeout(300)
    photo, style = box(phone, "#content-image"), box(phone, "#style-image")
    assert style["y"] >= photo["y"] + photo["height"] - 1, (photo, style)  # one above the other
    assert photo["width"] > 0.8 * PHONE["width"], photo


def test_buttons_tabs_and_panel_headings_are_big_enough_to_touch(phone):
    targets = phone.locator("#stylize, #stop, button[role='tab'], #advanced button.label-wrap")
    assert targets.count() >= 5
    for index in range(targets.count()):
        height = targets.nth(index).bounding_box()["height"]
        assert height >= TOUCH_TARGET, (targets.nth(index).inner_text(), height)


def test_once_a_job_starts_its_result_and_status_are_in_view_without_scrolling_by_hand(phone):
    phone.locator("#content-image input[type=file]").set_input_files(EXAMPLES / "coffee.jpg")
    phone.locator("#style-image input[type=file]").set_input_files(EXAMPLES / "style_swirls.jpg")
    expect(phone.locator("#style-image img")).to_be_visible()
    assert not phone.evaluate(IN_VIEW, "#result")  # below the inputs, the examples and the Advanced panel

    phone.locator("#stylize").tap()
    phone.wait_for_function(IN_VIEW, arg="#result")
    phone.wait_for_function(IN_VIEW, arg="#status")
    expect(phone.locator("#status")).to_contain_text("Done")
    expect(phone.locator("#result img")).to_be_visible()
    finished(phone)


def test_the_camera_source_takes_a_photo_on_a_touch_phone(phone):
    photo = phone.locator("#content-image")
    photo.get_by_role("button", name="Capture from camera").tap()
    photo.get_by_text("Click to Access Webcam").tap()
    expect(photo.locator("video")).to_be_visible()  # the camera's picture, live
    phone.wait_for_function("document.querySelector('#content-image video').readyState >= 2")  # frames arriving
    photo.get_by_role("button", name="capture photo").tap()
    taken = photo.locator(".image-frame img")
    expect(taken).to_be_visible()
    assert taken.evaluate("img => img.naturalWidth") > 0
