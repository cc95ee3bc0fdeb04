"""End to end: Debian's chromium, headless, driving the real page (bundled weights, tiny sizes).

Skipped only where /usr/bin/chromium is missing; ``.ci/run`` installs it, so CI runs these.
No browser is ever downloaded: playwright drives the system chromium.
"""

from __future__ import annotations

import io
import re
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from tests.app_server import EXAMPLES, HANG_GUARD, TINY_DEFAULTS, running_app, wait_until
from webapp.jobs import Studio
from webapp.layout import STYLE_GALLERY

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(
        f"Debian's chromium is not installed at {CHROMIUM} (apt-get install chromium; .ci/run does it)",
        allow_module_level=True,
    )

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = HANG_GUARD * 1000
DESKTOP = {"width": 1280, "height": 1100}
#: The progress video's metadata once the browser has loaded it (readyState 1 = HAVE_METADATA), else null.
VIDEO_LOADED = """() => {
    const video = document.querySelector('#progress-video video');
    if (!video || video.readyState < 1 || !(video.duration > 0)) return null;
    return {duration: video.duration, size: [video.videoWidth, video.videoHeight]};
}"""
#: Records every picture the result box shows (starting with the one it shows now) and every status line,
#: in order, so that no quick change is missed.
WATCH_PAGE = """() => {
    const result = document.querySelector('#result');
    const status = document.querySelector('#status');
    const shown = result.querySelector('img');
    window.seen = {pictures: shown ? [shown.getAttribute('src')] : [], statuses: []};
    const note = () => {
        const img = result.querySelector('img');
        const src = img && img.getAttribute('src');
        if (src && window.seen.pictures.at(-1) !== src) window.seen.pictures.push(src);
        const text = status.innerText;
        if (window.seen.statuses.at(-1) !== text) window.seen.statuses.push(text);
    };
    const observer = new MutationObserver(note);
    for (const box of [result, status]) {
        observer.observe(box, {subtree: true, childList: true, attributes: true, characterData: true});
    }
}"""


@contextmanager
def desktop_page(studio: Studio, examples_cache: Path) -> Iterator[Page]:
    """A desktop-sized chromium page on ``studio``'s app, served with a queue of 4 and loaded."""
    with running_app(studio, queue_size=4, examples_cache=examples_cache) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=DESKTOP)
        page.set_default_timeout(WAIT_MS)
        expect.set_options(timeout=WAIT_MS)
        page.goto(url)
        try:
            yield page
        finally:
            browser.close()


@pytest.fixture(scope="module")
def page(studio, tmp_path_factory) -> Iterator[Page]:
    with desktop_page(studio, tmp_path_factory.mktemp("examples")) as page:
        expect(page.locator("#stylize")).to_be_visible()
        yield page


def seen(page: Page, what: str) -> list[str]:
    """The pictures or statuses the page has shown since :data:`WATCH_PAGE` was installed."""
    return page.evaluate(f"window.seen.{what}")


def finished(page: Page) -> None:
    """Wait until the page has closed the last event (its progress tracker hidden); inputs settle then."""
    expect(page.locator("#result [data-testid='status-tracker']")).to_have_class(re.compile(r"\bhide\b"))


def set_option(page: Page, name: str, value: int) -> None:
    """Type ``value`` into the number box of the Advanced panel's slider ``name``, as a user would.

    Retried a few times: a slider that the accordion has only just drawn can take
    its initial value once more right after the first keystrokes (on a busy machine,
    even after the value has shown once, so it must still hold a second later).
    """
    box = page.locator(f"#option-{name} input[type=number]")
    slider = page.locator(f"#option-{name} input[type=range]")
    for _ in range(6):
        box.fill(str(value))
        box.press("Tab")
        try:
            expect(slider).to_have_value(str(value), timeout=2000)
            page.wait_for_timeout(1000)
            expect(slider).to_have_value(str(value), timeout=100)
            return
        except AssertionError:
            continue
    expect(slider).to_have_value(str(value))


def test_upload_stylize_watch_it_change_and_download(page, tmp_path):
    page.locator("#content-image input[type=file]").set_input_files(EXAMPLES / "coffee.jpg")
    page.locator("#style-image input[type=file]").set_input_files(EXAMPLES / "style_swirls.jpg")
    expect(page.locator("#content-image img")).to_be_visible()
    expect(page.locator("#style-image img")).to_be_visible()
    page.evaluate(WATCH_PAGE)

    page.locator("#stylize").click()
    page.wait_for_function("window.seen.pictures.length >= 2")
    page.screenshot(path=tmp_path / "midrun.png", full_page=True)
    status = page.locator("#status")
    expect(status).to_contain_text("Done")
    finished(page)
    page.screenshot(path=tmp_path / "final.png", full_page=True)

    # The picture changed with at least two previews before the final one, at the full output size.
    assert len(seen(page, "pictures")) >= 3, seen(page, "pictures")
    assert page.locator("#result img").evaluate("img => [img.naturalWidth, img.naturalHeight]") == [80, 53]
    # The status went through both scales, then said where the result came from.
    statuses = seen(page, "statuses")
    for scale in ("scale 1/2", "scale 2/2"):
        assert any("Painting…" in text and scale in text and "left" in text for text in statuses), statuses
    total = TINY_DEFAULTS.iterations + TINY_DEFAULTS.coarse_iterations
    expect(status).to_contain_text(f"80×53 px · {total} iterations")
    expect(status).to_contain_text(re.compile(r"CPU, (bf16|fp32); weights: original VGG19"))
    expect(status).to_contain_text("bundled with the app")
    expect(page.locator("#download")).to_contain_text("coffee-stylized-80x53")
    video = page.wait_for_function(VIDEO_LOADED).json_value()
    assert video["duration"] > 0 and video["size"] == [80, 52], video  # 80×53 rounded down to even sides
    expect(page.locator("#before-after img")).to_have_count(2)
    expect(page.locator("#loss-plot canvas, #loss-plot svg").first).to_be_visible()
    assert (tmp_path / "midrun.png").stat().st_size > 0 and (tmp_path / "final.png").stat().st_size > 0


def test_stop_a_second_run_keeps_its_latest_picture(page, studio, tmp_path):
    page.get_by_role("button", name=re.compile(r"^Advanced")).click()
    set_option(page, "iterations", 1000)
    page.evaluate(WATCH_PAGE)
    begun = studio.meter.jobs_begun

    page.locator("#stylize").click()
    page.wait_for_function("window.seen.pictures.length >= 2")  # the first run's picture, then a preview
    page.locator("#stop").click()

    wait_until(lambda: studio.meter.jobs_begun == begun + 1 and studio.meter.running == 0, "the engine to stop")
    status = page.locator("#status")
    expect(status).to_contain_text(re.compile(r"Stopped at iteration \d+/1012"))
    expect(status).to_contain_text("latest picture is kept")
    page.screenshot(path=tmp_path / "stopped.png", full_page=True)
    expect(page.locator("#result img")).to_have_attribute("src", seen(page, "pictures")[-1])
    expect(page.locator("#download")).to_contain_text("coffee-stylized-")


def test_an_example_is_computed_once_then_served_from_the_cache(page, studio):
    def show_example(row: int, content: str) -> None:
        page.locator(f"#examples [data-testid='dataset-cell-{row}-0']").click()
        expect(page.locator("#content-image img")).to_have_attribute("src", re.compile(rf"{content}\.jpg$"))
        expect(page.locator("#download")).to_contain_text(f"{content}-stylized-")

    begun = studio.meter.jobs_begun
    show_example(0, "cat")
    show_example(1, "coffee")
    assert studio.meter.jobs_begun == begun + 2
    show_example(0, "cat")  # again: from the cache, no new job
    expect(page.locator("#status")).to_contain_text("Done")
    assert studio.meter.jobs_begun == begun + 2


def test_a_file_that_is_not_an_image_gets_a_message_and_the_page_goes_on(page, tmp_path):
    fake = tmp_path / "holiday.jpg"
    fake.write_bytes(b"%PDF-1.7\n1 0 obj<<>>endobj\n%%EOF")
    page.locator("#content-image button[aria-label='Remove Image']").click()
    page.locator("#content-image input[type=file]").set_input_files(fake)
    page.locator("#stylize").click()
    expect(page.get_by_text("The content image is not an image that can be read")).to_be_visible()
    page.locator("#content-image button[aria-label='Remove Image']").click()
    page.locator("#content-image input[type=file]").set_input_files(EXAMPLES / "coffee.jpg")
    expect(page.locator("#content-image img")).to_be_visible()


def test_closing_the_tab_mid_run_stops_the_engine(page, studio):
    other = page.context.browser.new_page(viewport=DESKTOP)
    other.goto(page.url)
    other.locator("#content-image input[type=file]").set_input_files(EXAMPLES / "coffee.jpg")
    other.locator("#style-image input[type=file]").set_input_files(EXAMPLES / "style_swirls.jpg")
    other.get_by_role("button", name=re.compile(r"^Advanced")).click()
    set_option(other, "iterations", 1000)
    begun = studio.meter.jobs_begun
    other.locator("#stylize").click()
    wait_until(lambda: studio.meter.jobs_begun == begun + 1, "the job to start")
    expect(other.locator("#status")).to_contain_text("Painting…")
    started = studio.meter.iterations
    other.close()
    wait_until(lambda: studio.meter.running == 0, "the engine to stop after the tab closed", timeout=30)
    assert studio.meter.iterations - started < 500  # stopped long before the job's 1012 iterations


def test_a_click_in_the_style_gallery_makes_that_painting_the_style(page, tmp_path):
    gallery = page.locator("#style-gallery")
    expect(gallery.locator("button.thumbnail-item")).to_have_count(len(STYLE_GALLERY))
    name, caption = STYLE_GALLERY[2]
    thumbnail = gallery.get_by_role("button", name=caption, exact=True)  # named by what it shows
    expect(thumbnail).to_contain_text(caption)
    thumbnail.click()
    expect(page.locator("#style-image img")).to_have_attribute("src", re.compile(rf"{Path(name).name}$"))
    page.screenshot(path=tmp_path / "gallery.png", full_page=True)
    assert (tmp_path / "gallery.png").stat().st_size > 0


def test_paint_a_region_with_the_mouse_and_only_it_is_painted(page, studio):
    page.reload()
    page.locator("#content-image input[type=file]").set_input_files(EXAMPLES / "coffee.jpg")
    page.locator("#style-image input[type=file]").set_input_files(EXAMPLES / "style_swirls.jpg")
    expect(page.locator("#content-image img")).to_be_visible()
    page.get_by_text("Regions (optional)").first.click()
    canvas = page.locator("#regions canvas").first
    canvas.scroll_into_view_if_needed()
    expect(page.locator("#regions")).to_contain_text("First style")  # the layer the brush paints on
    box = canvas.bounding_box()
    for across in (0.15, 0.2, 0.25, 0.3):  # a band down the left of the photo, a few strokes wide
        page.mouse.move(box["x"] + across * box["width"], box["y"] + 0.1 * box["height"])
        page.mouse.down()
        for down in (0.3, 0.5, 0.7, 0.9):
            page.mouse.move(box["x"] + across * box["width"], box["y"] + down * box["height"])
        page.mouse.up()
    expect(page.locator("#regions-preview img")).to_be_visible()  # the regions, tinted over the photo

    page.locator("#stylize").click()
    expect(page.locator("#status")).to_contain_text("Done")
    finished(page)
    source = page.locator("#result img").get_attribute("src")
    with urllib.request.urlopen(urllib.parse.urljoin(page.url, source)) as response:
        picture = Image.open(io.BytesIO(response.read())).convert("RGB")
    with Image.open(EXAMPLES / "coffee.jpg") as coffee:
        photo = np.asarray(coffee.convert("RGB").resize(picture.size, Image.Resampling.LANCZOS), np.float32)
    change = np.abs(np.asarray(picture, np.float32) - photo).mean(axis=(0, 2))  # per column
    width = picture.width
    inside = change[round(0.15 * width) : round(0.3 * width)].mean()
    outside = change[round(0.65 * width) :].mean()
    assert inside > 3 * outside, (inside, outside)


def test_a_second_job_from_the_same_address_gets_the_fair_queue_message(page, studio):
    page.reload()
    page.locator("#content-image input[type=file]").set_input_files(EXAMPLES / "coffee.jpg")
    page.locator("#style-image input[type=file]").set_input_files(EXAMPLES / "style_swirls.jpg")
    expect(page.locator("#style-image img")).to_be_visible()
    api = Client(page.url, verbose=False)  # the same address as the browser: the same visitor
    files = {
        "content": handle_file(str(EXAMPLES / "coffee.jpg")),
        "style": handle_file(str(EXAMPLES / "style_swirls.jpg")),
    }
    running = api.submit(**files, size=64, multiscale=False, iterations=1000, preview_every=0, api_name="/stylize")
    wait_until(lambda: studio.meter.running == 1 and len(running.outputs()) > 0, "the API client's job to start")
    page.locator("#stylize").click()
    expect(page.get_by_text("You already have a job waiting or running; stop it or wait for it")).to_be_visible()
    running.cancel()
    wait_until(lambda: studio.meter.running == 0, "the API client's job to stop")
