"""Reading and writing video with PyAV (FFmpeg): what a clip is, its frames at the output size, and the MP4 out.

Everything that touches a user's video file lives here, as :mod:`~styletransfer.images` does for pictures.
:func:`probe_video` reads the container's header and decodes the first frame only (and, where the header does
not say how long the clip is, reads its packets without decoding them), so a server can refuse a file, or a clip
over its budget, before any work.
:func:`read_frames` decodes the frames upright (rotation metadata honoured), on a constant frame grid at the
source's average rate (a variable-rate clip is resampled to it, keeping each moment's picture), scaled to the
output size. :func:`write_video` writes H.264 in an MP4 at that rate, with the source's audio track (re-encoded as
AAC, cut to the video's length).

Only the demuxers of :data:`VIDEO_FORMATS` may open a file: FFmpeg knows hundreds, and some read other files or
URLs that a playlist names (HLS, concat).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from PIL import Image

from .images import ImageError, open_image, scaled_size

#: FFmpeg's demuxers that may open a video: MP4/MOV (and 3GP), Matroska/WebM, AVI, MPEG program and transport
#: streams, Ogg, FLV. Names as FFmpeg gives them.
VIDEO_FORMATS = ("mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "avi", "mpeg", "mpegts", "ogg", "flv")
_FORMAT_NAMES = "MP4, MOV, WebM, MKV, AVI, MPEG, Ogg or FLV"
#: Frames declaring more pixels than this are refused before decoding (a 7680×4320 frame has 33 million).
MAX_VIDEO_PIXELS = 40_000_000
#: The shortest side a video's frames may have.
MIN_VIDEO_SIDE = 16
#: The most frames per second taken from a clip; faster clips are resampled to this rate.
MAX_RATE = 60


class VideoError(ValueError):
    """An input that is not a usable video; the message says why, for a person."""


@dataclass(frozen=True)
class VideoInfo:
    """What a clip's header says, checked: enough to plan a job and to refuse one."""

    path: str
    size: tuple[int, int]
    """(width, height) of the frames as shown, upright (after the rotation metadata)."""
    rotation: int
    """Degrees counterclockwise by which the stored frames are turned to be shown (0, 90, 180 or -90)."""
    rate: Fraction
    """Frames per second of the output: the source's average rate (at most :data:`MAX_RATE`)."""
    duration: float
    """Seconds of video."""
    has_audio: bool

    @property
    def frames(self) -> int:
        """Frames at :attr:`rate` over :attr:`duration` (at least one)."""
        return max(1, round(self.duration * self.rate))


def output_size(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    """The (width, height) of a clip of ``size`` with its long side at most ``long_side`` (never larger than the
    clip's own), each side even, rounding down (H.264 in yuv420p needs it)."""
    width, height = scaled_size(size, min(long_side, max(size)))
    return max(2, width // 2 * 2), max(2, height // 2 * 2)


def _open(path: str) -> av.container.InputContainer:
    return av.open(path, options={"format_whitelist": ",".join(VIDEO_FORMATS), "protocol_whitelist": "file"})


#: How the files of :data:`VIDEO_FORMATS` begin (MP4/MOV's ``ftyp`` box starts at byte 4): one that no demuxer
#: opens is a damaged video.
_VIDEO_SIGNATURES = ((4, b"ftyp"), (4, b"moov"), (4, b"mdat"), (0, b"\x1a\x45\xdf\xa3"), (0, b"RIFF"), (0, b"OggS"))


def _not_a_video(path: str) -> VideoError:
    """The message for a file no allowed demuxer opens: a damaged video, a picture, or something else."""
    with open(path, "rb") as file:
        head = file.read(12)
    if any(head[at : at + len(mark)] == mark for at, mark in _VIDEO_SIGNATURES):
        return VideoError("This video file could not be read: it is truncated or corrupt.")
    try:
        picture = open_image(path, name="file")
    except ImageError:
        return VideoError(f"This file is not a video in a format this app reads ({_FORMAT_NAMES}), or it is corrupt.")
    kind, size = picture.format, picture.size
    picture.close()
    return VideoError(
        f"This file is a picture ({kind}, {size[0]}×{size[1]}), not a video: use the Photo tab for pictures."
    )


def probe_video(source: str | os.PathLike, *, max_pixels: int = MAX_VIDEO_PIXELS) -> VideoInfo:
    """Open the video at ``source`` and check what its header declares, decoding only its first frame.

    Raises :class:`VideoError`, with a message for a person, for a file that is not a video in one of
    :data:`VIDEO_FORMATS` (a picture is named as one), one that cannot be read (truncated, corrupt), a file with
    audio only, frames over ``max_pixels`` pixels or under :data:`MIN_VIDEO_SIDE` on a side, no frames, or one frame.
    """
    path = str(source)
    if not Path(path).is_file():
        raise VideoError("The video file is missing.")
    if os.path.getsize(path) == 0:
        raise VideoError("The video file is empty.")
    try:
        container = _open(path)
    except av.error.FFmpegError:
        raise _not_a_video(path) from None
    with container:
        if not container.streams.video:
            if container.streams.audio:
                raise VideoError("This file has sound but no pictures (audio only): a video is needed.")
            raise VideoError("This video has no frames (no video stream with a frame in it).")
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        if width * height > max_pixels:
            raise VideoError(
                f"The video's frames are {width}×{height} pixels ({width * height / 1e6:.0f} megapixels); this app "
                f"reads frames of at most {max_pixels / 1e6:.0f} megapixels."
            )
        if min(width, height) < MIN_VIDEO_SIDE:
            raise VideoError(
                f"The video's frames are {width}×{height} pixels; each side must be at least {MIN_VIDEO_SIDE}."
            )
        rotation = _rotation(stream)
        if rotation is None:
            raise VideoError("This video has no frame that decodes: it is empty, truncated or corrupt.")
        times = None if _header_duration(container, stream) else _packet_times(container, stream)
        duration, rate = _timing(container, stream, times)
        has_audio = bool(container.streams.audio)
    if duration <= 0:
        raise VideoError("This video has no frames.")
    size = (height, width) if rotation in (90, -90) else (width, height)
    info = VideoInfo(path, size, rotation, rate, duration, has_audio)
    if info.frames < 2:
        raise VideoError("This video has only one frame: it is a still picture. Use the Photo tab for it.")
    return info


def is_video(source: str | os.PathLike) -> bool:
    """Whether ``source`` is a file that one of :data:`VIDEO_FORMATS` opens and that has a video stream (a
    picture is not a video, whatever its name says)."""
    try:
        with _open(str(source)) as container:
            return bool(container.streams.video)
    except (av.error.FFmpegError, OSError):
        return False


def _rotation(stream: av.video.stream.VideoStream) -> int | None:
    """The stream's display rotation, from its first frame's display matrix (FFmpeg puts the stream's there), to
    the nearest quarter turn; ``None`` when no frame decodes."""
    try:
        for frame in stream.container.decode(stream):
            angle = frame.rotation
            break
        else:
            return None
    except av.error.FFmpegError:
        return None
    finally:
        stream.container.seek(0)
    turn = round(angle / 90) * 90 % 360
    return {0: 0, 90: 90, 180: 180, 270: -90}[turn]


def _header_duration(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> bool:
    """Whether the header says how long the video is."""
    return bool(stream.duration and stream.time_base) or bool(container.duration)


def _packet_times(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> list[float]:
    """Each video packet's presentation time in seconds, read without decoding (for headers that do not say)."""
    times = []
    try:
        for packet in container.demux(stream):
            if packet.pts is not None and packet.time_base is not None:
                times.append(float(packet.pts * packet.time_base))
    except av.error.FFmpegError:
        pass
    container.seek(0)
    return times


def _timing(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream, times: list[float] | None
) -> tuple[float, Fraction]:
    """The video's duration in seconds and its output frame rate."""
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate or Fraction(25)
    rate = min(Fraction(rate), Fraction(MAX_RATE))
    if times is not None:
        if not times:
            return 0.0, rate
        return max(times) - min(times) + 1 / float(rate), rate
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base), rate
    return container.duration / av.time_base, rate


def read_frames(info: VideoInfo, size: tuple[int, int]) -> list[Image.Image]:
    """The clip's frames as RGB pictures of ``size`` (width, height; see :func:`output_size`), upright, one per
    step of ``info.rate`` over the clip: a variable-rate clip is resampled to that grid, each step taking the
    frame shown at its moment. Raises :class:`VideoError` when no frame decodes."""
    stored = (size[1], size[0]) if info.rotation in (90, -90) else size
    pictures: list[Image.Image] = []
    step = 1 / float(info.rate)
    start = None
    try:
        for moment, picture in _decoded(info.path, stored):
            start = moment if start is None else start
            slot = round((moment - start) / step)
            if slot < len(pictures):  # two frames in one step (a burst of a variable-rate clip): the later one
                pictures[-1] = picture
                continue
            while len(pictures) < slot:  # a gap (a long frame of a variable-rate clip): it is shown on
                pictures.append(pictures[-1])
            pictures.append(picture)
    except av.error.FFmpegError as error:
        if not pictures:
            raise VideoError(
                f"The video could not be decoded; the file may be truncated or corrupt ({error})."
            ) from None
    if not pictures:
        raise VideoError("No frame of this video could be decoded; the file may be truncated or corrupt.")
    if info.rotation:
        pictures = [picture.rotate(info.rotation, expand=True) for picture in pictures]
    return pictures


def _decoded(path: str, size: tuple[int, int]) -> Iterator[tuple[float, Image.Image]]:
    """Each decoded frame's time in seconds and its picture, scaled to ``size`` as stored (before rotation)."""
    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for index, frame in enumerate(container.decode(stream)):
            moment = float(frame.time) if frame.time is not None else index / float(stream.guessed_rate or 25)
            yield moment, frame.to_image(width=size[0], height=size[1], interpolation="AREA").convert("RGB")


def write_video(
    frames: Sequence[Image.Image], rate: Fraction, path: str | os.PathLike, *, audio_from: str | None = None
) -> None:
    """Write ``frames`` (all of one even size) as an H.264 MP4 (yuv420p) at ``rate`` frames per second to
    ``path``, with the audio of the file ``audio_from`` (if it has any) re-encoded as AAC and cut to the video's
    length: a shorter video (a stopped job) keeps the sound of the part it shows."""
    if not frames:
        raise ValueError("A video needs at least one frame.")
    width, height = frames[0].size
    with av.open(str(path), mode="w", options={"movflags": "+faststart"}) as output:
        video = output.add_stream("libx264", rate=rate, options={"crf": "18", "preset": "fast"})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        source = _open(audio_from) if audio_from else None
        try:
            audio_in = source.streams.audio[0] if source is not None and source.streams.audio else None
            audio_out = output.add_stream("aac", rate=audio_in.codec_context.sample_rate) if audio_in else None
            if audio_out is not None:
                audio_out.layout = audio_in.codec_context.layout
            for picture in frames:
                frame = av.VideoFrame.from_image(picture.convert("RGB")).reformat(format="yuv420p")
                output.mux(video.encode(frame))
            output.mux(video.encode(None))
            if audio_out is not None:
                _copy_audio(source, audio_in, audio_out, output, len(frames) / float(rate))
        finally:
            if source is not None:
                source.close()


def _copy_audio(
    source: av.container.InputContainer,
    audio_in: av.audio.stream.AudioStream,
    audio_out: av.audio.stream.AudioStream,
    output: av.container.OutputContainer,
    seconds: float,
) -> None:
    """Re-encode the source's audio into ``audio_out``, up to ``seconds`` from its start."""
    start = None
    try:
        for frame in source.decode(audio_in):
            moment = float(frame.time) if frame.time is not None else 0.0
            start = moment if start is None else start
            if moment - start >= seconds:
                break
            keep = round((seconds - (moment - start)) * frame.sample_rate)
            if keep < frame.samples:
                frame = _first_samples(frame, keep)
            frame.pts = None
            output.mux(audio_out.encode(frame))
    except av.error.FFmpegError:
        pass  # a damaged audio track ends where it breaks; the video is whole
    output.mux(audio_out.encode(None))


def _first_samples(frame: av.AudioFrame, count: int) -> av.AudioFrame:
    """The first ``count`` samples of an audio frame."""
    array = frame.to_ndarray()
    planar = frame.format.is_planar
    cut = array[:, :count] if planar else array[:, : count * len(frame.layout.channels)]
    shorter = av.AudioFrame.from_ndarray(cut.copy(), format=frame.format.name, layout=frame.layout.name)
    shorter.sample_rate = frame.sample_rate
    return shorter
