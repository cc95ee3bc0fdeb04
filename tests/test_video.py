"""Video: reading awkward clips, the flow and its check, the temporal loss, and the per-frame loop end to end
(library and command line), on tiny clips generated from the example photos (benchmarks.clips)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
import torch
from PIL import Image

from benchmarks.clips import SHOTS, frame_at, make_clip
from styletransfer import StyleConfig
from styletransfer.cli import main
from styletransfer.flow import frame_flows, optical_flow, reliable, warp, warping_error
from styletransfer.images import to_image, to_tensor
from styletransfer.losses import TemporalLoss
from styletransfer.video_io import VideoError, is_video, output_size, probe_video, read_frames

from .conftest import EXAMPLES, run_in_process

STYLE = EXAMPLES / "paintings" / "starry_night_van_gogh_1889.jpg"
#: Tiny jobs: one scale at 64 px, a few iterations for the first frame and fewer for the later ones.
TINY = {"size": 64, "scales": 1, "iterations": 8, "video_iterations": 4, "preview_every": 0}


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("clips")


@pytest.fixture(scope="module")
def toned(clips) -> Path:
    """Six frames of 96×64 at 8 fps with a tone as long as the video."""
    return make_clip(clips / "toned.mp4", size=(96, 64), frames=6, rate=8, tone=True)


def stream_seconds(path: Path, kind: str) -> float:
    with av.open(str(path)) as container:
        stream = getattr(container.streams, kind)[0]
        return float(stream.duration * stream.time_base)


def decoded_frames(path: Path) -> list[Image.Image]:
    with av.open(str(path)) as container:
        return [frame.to_image() for frame in container.decode(video=0)]


def test_rotation_metadata_is_honoured(clips):
    clip = make_clip(clips / "upright.mp4", size=(96, 64), frames=4, rotation=90)
    info = probe_video(clip)
    assert info.size == (64, 96) and info.rotation == 90
    first = read_frames(info, output_size(info.size, 96))[0]
    assert first.size == (64, 96)
    expected = frame_at(SHOTS["cat"], (96, 64), 0.0).rotate(90, expand=True)
    difference = np.abs(np.asarray(first, dtype=float) - np.asarray(expected, dtype=float)).mean()
    upside_down = np.abs(np.asarray(first, dtype=float) - np.asarray(expected.rotate(180), dtype=float)).mean()
    assert difference < 12 < upside_down


def test_variable_frame_rate_is_resampled_to_the_average_rate(clips):
    clip = make_clip(clips / "variable.mp4", size=(96, 64), frames=10, rate=8, variable_rate=True)
    info = probe_video(clip)
    frames = read_frames(info, output_size(info.size, 64))
    assert abs(float(info.rate) - 8) < 0.5  # frames held 1/16 s and 3/16 s in turn: 8 a second on average
    assert len(frames) == info.frames
    assert all(frame.size == (64, 42) for frame in frames)  # even sides: 64 × 42.67 rounds down to 42


def test_output_size_is_even_and_never_larger_than_the_clip():
    assert output_size((1920, 1080), 512) == (512, 288)
    assert output_size((101, 75), 512) == (100, 74)
    assert output_size((721, 405), 300) == (300, 168)


def test_a_picture_is_not_a_video_whatever_its_name(tmp_path):
    renamed = tmp_path / "photo.mp4"
    renamed.write_bytes((EXAMPLES / "cat.jpg").read_bytes())
    assert not is_video(renamed)
    with pytest.raises(VideoError, match="picture"):
        probe_video(renamed)


def test_the_check_leaves_out_what_the_moving_disc_uncovers():
    """The disc moves left across a still-ish photo: the pixels it uncovers (just behind it, on the right) have no
    match in the previous frame and are left out; the photo far from the disc is kept."""
    shot = SHOTS["cat"]
    before, after = (frame_at(shot, (192, 128), progress) for progress in (0.45, 0.5))
    backward = optical_flow(after, before)
    trust = reliable(backward, optical_flow(before, after))
    assert trust[:, :20].mean() > 0.9  # the left edge: photo only
    assert trust.mean() < 0.97  # somewhere, around the disc, the flow is not trusted


def test_warping_along_a_shift_undoes_it():
    photo = to_tensor(Image.open(EXAMPLES / "coffee.jpg").convert("RGB").resize((128, 96)))
    shifted = torch.roll(photo, shifts=3, dims=-1)  # the picture moved 3 px right
    backward = optical_flow(to_image(shifted), to_image(photo))
    assert abs(float(np.median(backward[..., 0])) + 3) < 0.5
    warped = warp(photo, backward)
    assert (warped - shifted)[..., 8:-8, 8:-8].abs().mean() < 0.03


def test_the_temporal_loss_counts_only_trusted_pixels():
    warped = torch.zeros(1, 3, 8, 8)
    trust = torch.zeros(1, 1, 8, 8)
    trust[..., :4] = 1
    image = torch.ones(1, 3, 8, 8, requires_grad=True)
    loss = TemporalLoss(warped, trust, weight=10.0)(image)
    assert loss.item() == pytest.approx(10.0 * 0.5)  # half the pixels trusted, each off by 1
    loss.backward()
    assert image.grad[..., 4:].abs().max() == 0 and image.grad[..., :4].abs().min() > 0


def test_consistent_frames_flicker_far_less_and_keep_the_sound(stylizer, toned, tmp_path):
    """The same clip with the temporal loss and without (independent frames): the consistent one's warping error
    is a fraction of the independent one's; the video has every frame, at an even size, and the clip's audio."""
    info = probe_video(toned)
    inputs = read_frames(info, output_size(info.size, TINY["size"]))
    flows = frame_flows(inputs)
    errors, later_terms = {}, set()
    default = StyleConfig().temporal_weight
    for weight in (0.0, default):
        output = tmp_path / f"weight{weight:g}.mp4"
        events = list(stylizer.stylize_video(toned, STYLE, output=output, temporal_weight=weight, **TINY))
        final = events[-1]
        assert final.final and final.output == str(output) and final.frame == 6
        later = [event.progress for event in events if event.progress is not None and event.frame > 0]
        later_terms |= {name for progress in later for name in progress.losses}
        errors[weight] = warping_error(decoded_frames(output), flows)
    assert errors[default] < 0.5 * errors[0.0], errors
    assert "temporal" in later_terms
    frames = decoded_frames(output)
    assert len(frames) == 6 and frames[0].size == (64, 42)
    video, audio = stream_seconds(output, "video"), stream_seconds(output, "audio")
    assert abs(audio - video) < 0.1 and video == pytest.approx(0.75, abs=0.01)


def test_closing_the_job_keeps_the_frames_made_so_far(stylizer, toned, tmp_path):
    output = tmp_path / "stopped.mp4"
    events = stylizer.stylize_video(toned, STYLE, output=output, **TINY)
    done = 0
    for event in events:
        done += event.frame_done
        if done == 2:
            events.close()
            break
    assert len(decoded_frames(output)) == 2
    assert stream_seconds(output, "audio") == pytest.approx(2 / 8, abs=0.06)  # the sound of those two frames


def test_the_command_line_makes_a_video_from_a_clip_by_its_content(toned, tmp_path, capsys):
    clip = tmp_path / "clip.dat"  # not named as a video
    clip.write_bytes(toned.read_bytes())
    output = tmp_path / "out.mp4"
    flags = ["--size", "64", "--scales", "1", "--iterations", "6", "--video-iterations", "3"]
    ran = run_in_process(main, [str(clip), str(STYLE), "-o", str(output), "--weights", "bundled", *flags], capsys)
    assert ran.code == 0, ran.err
    assert "frames" in ran.err and "6/6" in ran.err  # the bar over frames
    assert len(decoded_frames(output)) == 6
    assert stream_seconds(output, "audio") > 0.6


def test_the_video_benchmark_writes_its_tables_videos_and_strip(tmp_path, capsys):
    from benchmarks.video import main as benchmark

    flags = ["--size", "48", "--seconds", "0.375", "--rate", "8", "--clips", "cat", "--flows", "--out", str(tmp_path)]
    flags += ["--iterations", "4", "--video-iterations", "2", "--weights", "100", "200"]  # mechanics only
    ran = run_in_process(benchmark, flags, capsys)
    assert ran.code == 0, ran.err
    assert "| dis | cat |" in ran.out and "| farneback | cat |" in ran.out
    assert all(row in ran.out for row in ("independent (0)", "consistent (100)", "consistent (200)"))
    assert len(decoded_frames(tmp_path / "cat-side-by-side.mp4")) == 3
    assert Image.open(tmp_path / "video_strip.jpg").width > 3 * 48
