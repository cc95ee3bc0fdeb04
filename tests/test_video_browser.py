"""End to end in Debian's chromium: the Video tab takes a generated clip, streams its frames as they are made, and
ends with a result video that plays. Skipped only where /usr/bin/chromium is missing (as tests/test_browser.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from benchmarks.clips import make_clip
from tests.app_server import EXAMPLES, bundled_studio
from tests.test_browser import desktop_page

pytestmark = [pytest.mark.slow, pytest.mark.browser]

#: The result video's state once it has played a little (muted, as autoplay rules want), else null.
RESULT_PLAYING = """async () => {
    const video = document.querySelector('#video-result video');
    if (!video || video.readyState < 1 || !(video.duration > 0)) return null;
    video.muted = true;
    await video.play();
    await new Promise(resolve => setTimeout(resolve, 400));
    return video.currentTime > 0 ? {duration: video.duration, size: [video.videoWidth, video.videoHeight]} : null;
}"""
#: Records every picture the current-frame box shows.
WATCH_FRAMES = """() => {
    const box = document.querySelector('#video-frame');
    window.frames_seen = [];
    new MutationObserver(() => {
        const img = box.querySelector('img');
        const src = img && img.getAttribute('src');
        if (src && window.frames_seen.at(-1) !== src) window.frames_seen.push(src);
    }).observe(box, {subtree: true, childList: true, attributes: true});
}"""


def result_playing(page: Page, tries: int = 120) -> dict | None:
    """The result video's duration and size once it plays, asked again every half second (Playwright's
    ``wait_for_function`` takes an async predicate's promise itself as its answer, before the video is loaded)."""
    for _ in range(tries):
        played = page.evaluate(RESULT_PLAYING)
        if played:
            return played
        page.wait_for_timeout(500)
    return None


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Iterator[Page]:
    with desktop_page(bundled_studio(), tmp_path_factory.mktemp("examples")) as page:
        yield page


def set_slider(page: Page, elem_id: str, value: int) -> None:
    """Type ``value`` into a slider's number box, as a user would, and wait until the slider holds it."""
    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(str(value))
    box.press("Tab")
    expect(page.locator(f"#{elem_id} input[type=range]")).to_have_value(str(value))


def test_a_clip_is_streamed_frame_by_frame_and_plays_with_its_sound(page, tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", size=(96, 64), frames=6, rate=8, tone=True)
    page.get_by_role("tab", name="Video").click()
    page.locator("#video-input input[type=file]").set_input_files(clip)
    page.locator("#video-style-image input[type=file]").set_input_files(EXAMPLES / "style_swirls.jpg")
    expect(page.locator("#video-style-image img")).to_be_visible()
    set_slider(page, "video-size", 64)
    set_slider(page, "video-video-iterations", 3)
    page.evaluate(WATCH_FRAMES)

    page.locator("#video-stylize").click()
    expect(page.locator("#video-status")).to_contain_text("Painting…")
    page.wait_for_function("window.frames_seen.length >= 1")  # a frame streamed while the clip is made
    expect(page.locator("#video-status")).to_contain_text("Done")
    assert len(page.evaluate("window.frames_seen")) >= 2
    expect(page.locator("#video-status")).to_contain_text("6 frames of 64×42 px")
    played = result_playing(page)
    assert played is not None and played["duration"] > 0.5 and played["size"] == [64, 42], played
    expect(page.locator("#video-download")).to_contain_text("clip-stylized-64x42")
