"""A fuzzed API: ``python -m benchmarks.fuzz --cases 300 --seed 1``.

Generates ``--cases`` cases, reproducibly from ``--seed``, and sends each to a real app
(:class:`~benchmarks.server.AppProcess`, started here) through ``gradio_client``, or as raw
queue requests where a client library would not let the case through (missing or extra
parameters). The kinds: images of every PIL mode, 16-bit PNG, CMYK and progressive JPEG,
palette with transparency, animated GIF/WebP, EXIF orientations, ICC profiles (real and
garbage), truncated files, random bytes, headers claiming huge sizes, 1×N and N×1 images,
SVG and PDF renamed, empty files; the same as masks, plus masks of the wrong size, all black,
all white, alpha-only and editor payloads with missing or odd layers; settings out of range,
of the wrong type, NaN, infinities, huge, very long strings, unknown choices, missing and
extra; and the video endpoint with corrupt containers, no frames, huge frames and pictures
renamed ``.mp4``.

Each outcome is one of: ``done`` (a result), ``refused`` (a message naming the input and the
problem), and the failures ``unclear`` (a message that names neither, or shows a
traceback), ``crash`` (the server died or stopped answering) and ``hang`` (no answer within
:data:`CASE_GUARD` seconds). It passes with no failure and a normal job done after the run.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import random
import struct
import tempfile
import urllib.request
import uuid
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image, ImageCms

from .server import AppProcess

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
#: Each case's job: tiny, so that hundreds fit in minutes.
JOB = {"size": 64, "multiscale": False, "iterations": 2, "preview_every": 0}
#: A case with no answer after this long (seconds) is a hang.
CASE_GUARD = 120.0
#: PIL modes, and the format each is written in (the first of PNG, TIFF that takes it).
MODES = ["1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "LAB", "HSV", "I", "I;16", "F"]
TRACEBACK_SIGNS = ("Traceback", 'File "', "Exception:", "Error:")
#: What a message must contain to name each input (lower case).
NAMES = {
    "content": "content image",
    "style": "style image",
    "second_style": "style image",
    "mask": "mask",
    "second_mask": "mask",
    "keep_mask": "mask",
    "regions": "region",
    "video": "video",
}
#: The inputs that take a file.
FILE_INPUTS = {"content", "style", "second_style", "mask", "second_mask", "keep_mask"}
OUTCOMES = ("done", "refused", "unclear", "crash", "hang")
FAILURES = ("unclear", "crash", "hang")


@dataclass(frozen=True)
class Case:
    """One fuzz case: its kind (the table's row), a description, the input it aims at, and how to send it."""

    kind: str
    description: str
    target: str
    """The input or setting named in a refusal: a key of :data:`NAMES` or a setting's name."""
    send: Callable[[Client, str], Any]
    """Send the case with the client (and the server's URL); returns a result or raises ``AppError``."""


# ---------------------------------------------------------------------------------------------------------------
# Files


def _gradient(rng: random.Random, size: tuple[int, int] | None = None) -> Image.Image:
    width, height = size or (rng.randint(24, 160), rng.randint(24, 160))
    x = np.linspace(0, 255, width)[None, :, None]
    y = np.linspace(0, 255, height)[:, None, None]
    phase = rng.random() * 255
    picture = np.concatenate([x + 0 * y, y + 0 * x, (x + y + phase) % 256], axis=2)
    return Image.fromarray(picture.astype(np.uint8), "RGB")


def _encoded(image: Image.Image, format: str, **options: Any) -> bytes:
    data = io.BytesIO()
    image.save(data, format=format, **options)
    return data.getvalue()


def _in_mode(rng: random.Random, mode: str) -> tuple[bytes, str]:
    picture = _gradient(rng)
    if mode in ("I", "F"):
        converted = Image.fromarray(np.asarray(picture.convert("L"), np.float32 if mode == "F" else np.int32) * 97)
    elif mode == "I;16":
        converted = Image.fromarray((np.asarray(picture.convert("L"), np.uint16) * 257).astype(np.uint16))
    elif mode == "PA":
        converted = picture.convert("P").convert("PA")
    else:
        converted = picture.convert(mode)
    for format, extension in (("PNG", "png"), ("TIFF", "tiff")):
        try:
            return _encoded(converted, format), extension
        except (OSError, ValueError, KeyError):
            continue
    return _encoded(converted.convert("RGB"), "PNG"), "png"


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width``×``height`` and whose data is one empty chunk."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


def _exif_jpeg(rng: random.Random, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return _encoded(_gradient(rng), "JPEG", exif=exif.tobytes())


def _animated(rng: random.Random, format: str) -> bytes:
    frames = [_gradient(rng, (64, 48)) for _ in range(rng.randint(2, 5))]
    return _encoded(frames[0], format, save_all=True, append_images=frames[1:], duration=100, loop=0)


def image_file(rng: random.Random) -> tuple[str, bytes, str, bool]:
    """A random image-ish file: (its kind, its bytes, its file name, whether it is a real image)."""
    kind = rng.choice(
        [
            "PIL mode",
            "16-bit PNG",
            "CMYK JPEG",
            "progressive JPEG",
            "palette + transparency",
            "animated GIF/WebP",
            "EXIF orientation",
            "ICC profile",
            "truncated file",
            "random bytes",
            "huge header",
            "1×N / N×1",
            "SVG/PDF renamed",
            "empty file",
        ]
    )
    name = f"fuzz-{rng.randrange(10**6)}"
    if kind == "PIL mode":
        data, extension = _in_mode(rng, rng.choice(MODES))
        return kind, data, f"{name}.{extension}", True
    if kind == "16-bit PNG":
        data, _ = _in_mode(rng, "I;16")
        return kind, data, f"{name}.png", True
    if kind == "CMYK JPEG":
        return kind, _encoded(_gradient(rng).convert("CMYK"), "JPEG"), f"{name}.jpg", True
    if kind == "progressive JPEG":
        return kind, _encoded(_gradient(rng), "JPEG", progressive=True, quality=rng.randint(5, 95)), f"{name}.jpg", True
    if kind == "palette + transparency":
        picture = _gradient(rng).convert("P")
        return kind, _encoded(picture, rng.choice(["PNG", "GIF"]), transparency=rng.randrange(256)), f"{name}.png", True
    if kind == "animated GIF/WebP":
        format = rng.choice(["GIF", "WEBP"])
        return kind, _animated(rng, format), f"{name}.{format.lower()}", True
    if kind == "EXIF orientation":
        return kind, _exif_jpeg(rng, rng.randint(1, 8)), f"{name}.jpg", True
    if kind == "ICC profile":
        if rng.random() < 0.5:
            profile = ImageCms.ImageCmsProfile(ImageCms.createProfile(rng.choice(["sRGB", "LAB", "XYZ"]))).tobytes()
        else:
            profile = rng.randbytes(rng.randint(1, 600))  # garbage where the profile goes
        return kind, _encoded(_gradient(rng), rng.choice(["PNG", "JPEG"]), icc_profile=profile), f"{name}.png", True
    if kind == "truncated file":
        whole = _encoded(_gradient(rng), rng.choice(["PNG", "JPEG", "WEBP", "GIF"]))
        return kind, whole[: rng.randint(1, len(whole) - 1)], f"{name}.png", False
    if kind == "random bytes":
        return kind, rng.randbytes(rng.randint(1, 5000)), f"{name}.{rng.choice(['jpg', 'png', 'webp', 'gif'])}", False
    if kind == "huge header":
        side = rng.choice([20_000, 65_535, 100_000, 2**31 - 1])
        return kind, _png_header(side, rng.choice([side, 1, 64])), f"{name}.png", False
    if kind == "1×N / N×1":
        length = rng.randint(1, 3000)
        size = (1, length) if rng.random() < 0.5 else (length, 1)
        return kind, _encoded(Image.new("RGB", size, "red"), "PNG"), f"{name}.png", False
    if kind == "SVG/PDF renamed":
        if rng.random() < 0.5:
            data = (
                b'<svg xmlns="http://www.w3.org/2000/svg" width="90" height="60"><rect width="90" height="60"/></svg>'
            )
        else:
            data = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF"
        return kind, data, f"{name}.{rng.choice(['jpg', 'png'])}", False
    return kind, b"", f"{name}.{rng.choice(['jpg', 'png'])}", False


def mask_file(rng: random.Random) -> tuple[str, bytes, str]:
    """A mask: any image file of :func:`image_file`, or one of the mask-only kinds."""
    kind = rng.choice(["image as mask", "wrong size", "all black", "all white", "alpha only"])
    name = f"mask-{rng.randrange(10**6)}.png"
    if kind == "image as mask":
        inner, data, name, _ = image_file(rng)
        return f"mask: {inner}", data, name
    if kind == "wrong size":
        size = (rng.randint(16, 400), rng.randint(16, 400))
        return "mask: wrong size", _encoded(_gradient(rng, size).convert("L"), "PNG"), name
    if kind == "alpha only":
        alpha = np.zeros((60, 90, 4), np.uint8)
        alpha[:, : rng.randint(1, 89), 3] = 255
        return "mask: alpha only", _encoded(Image.fromarray(alpha, "RGBA"), "PNG"), name
    colour = 0 if kind == "all black" else 255
    return f"mask: {kind}", _encoded(Image.new("L", (90, 60), colour), "PNG"), name


# ---------------------------------------------------------------------------------------------------------------
# Cases


class Files:
    """Writes each case's files to a folder of its own."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def write(self, name: str, data: bytes) -> str:
        path = self.folder / uuid.uuid4().hex / name
        path.parent.mkdir(parents=True)
        path.write_bytes(data)
        return str(path)


def _stylize(**inputs: Any) -> Callable[[Client, str], Any]:
    """Send ``inputs`` (files as paths, wrapped here) to ``/stylize``."""

    def send(client: Client, url: str) -> Any:
        wrapped = {key: handle_file(value) if key in FILE_INPUTS else value for key, value in inputs.items()}
        if "regions" in wrapped:
            wrapped["regions"] = _wrap_editor(wrapped["regions"])
        return client.submit(**wrapped, api_name="/stylize").result(timeout=CASE_GUARD)

    return send


def _wrap_editor(payload: dict[str, Any]) -> dict[str, Any]:
    """An editor payload with its files (paths) wrapped for upload."""

    def wrap(part: Any) -> Any:
        if isinstance(part, list):
            return [wrap(item) for item in part]
        return (
            handle_file(part)
            if isinstance(part, str) and part.endswith((".png", ".jpg", ".webp", ".gif", ".tiff"))
            else part
        )

    return {key: wrap(part) for key, part in payload.items()}


def image_case(rng: random.Random, files: Files) -> Case:
    kind, data, name, _ = image_file(rng)
    target = rng.choice(["content", "style", "second_style"])
    inputs = {"content": str(EXAMPLES / "coffee.jpg"), "style": str(EXAMPLES / "style_swirls.jpg"), **JOB}
    inputs[target] = files.write(name, data)
    return Case(kind, f"{name} as the {target}", target, _stylize(**inputs))


def mask_case(rng: random.Random, files: Files) -> Case:
    kind, data, name = mask_file(rng)
    target = rng.choice(["mask", "second_mask", "keep_mask"])
    inputs = {"content": str(EXAMPLES / "coffee.jpg"), "style": str(EXAMPLES / "style_swirls.jpg"), **JOB}
    if target == "second_mask" or rng.random() < 0.3:
        inputs["second_style"] = str(EXAMPLES / "style_mosaic.jpg")
    inputs[target] = files.write(name, data)
    return Case(kind, f"{name} as the {target}", target, _stylize(**inputs))


def editor_case(rng: random.Random, files: Files) -> Case:
    layer = files.write("layer.png", _encoded(Image.new("RGBA", (90, 60), (0, 0, 0, 255)), "PNG"))
    background = files.write("background.png", _encoded(_gradient(rng, (90, 60)), "PNG"))
    _, odd_data, odd_name, _ = image_file(rng)
    odd = files.write(odd_name, odd_data)
    payload = rng.choice(
        [
            {"background": background, "layers": [], "composite": None},
            {"background": None, "layers": [layer], "composite": None},
            {"background": background, "layers": [layer] * rng.randint(4, 9), "composite": background},
            {"background": background, "layers": [odd], "composite": background},
            {"background": odd, "layers": [layer], "composite": odd},
            {"layers": [layer, None, layer]},
            {"background": background, "layers": "not a list", "composite": background},
        ]
    )
    inputs = {"content": str(EXAMPLES / "coffee.jpg"), "style": str(EXAMPLES / "style_swirls.jpg"), **JOB}
    inputs["regions"] = payload
    summary = ", ".join(f"{key}: {type(value).__name__}" for key, value in payload.items())
    return Case("editor payload", f"editor {{{summary}}}", "regions", _stylize(**inputs))


#: Settings and a few values of every bad kind for each (numbers: out of range, huge, NaN, infinities).
NUMERIC = [
    "size",
    "iterations",
    "coarse_iterations",
    "scales",
    "min_size",
    "style_strength",
    "content_weight",
    "tv_weight",
    "style_scale",
    "learning_rate",
    "mask_feather",
    "face_strength",
    "seed",
    "preview_every",
    "time_limit",
    "blend",
]
CHOICES = ["optimizer", "init", "pooling", "style_loss", "faces", "backbone"]
FLAGS = ["multiscale", "preserve_color"]


def setting_case(rng: random.Random, files: Files) -> Case:
    name = rng.choice([*NUMERIC, *CHOICES, *FLAGS])
    kind, value = rng.choice(
        [
            ("out of range", rng.choice([-1, -(10**6), 10**6, 0])),
            ("huge number", rng.choice([10**30, 1e308, 2**63])),
            ("NaN / infinity", rng.choice([math.nan, math.inf, -math.inf])),
            ("wrong type", rng.choice([[1, 2], {"a": 1}, "twelve", True, None])),
            ("long string", "x" * rng.choice([1000, 100_000])),
            ("unknown choice", rng.choice(["adamw", "sgd", "", "LBFGS ", "../../etc/passwd"])),
        ]
    )
    inputs = {"content": str(EXAMPLES / "coffee.jpg"), "style": str(EXAMPLES / "style_swirls.jpg"), **JOB, name: value}
    if name == "blend":
        inputs["second_style"] = str(EXAMPLES / "style_mosaic.jpg")
    return Case(f"setting: {kind}", f"{name} = {str(value)[:30]!r}", name, _stylize(**inputs))


def parameters_case(rng: random.Random, files: Files) -> Case:
    """Missing or extra parameters: sent as a raw queue request, as curl would (``gradio_client`` fills them)."""
    missing = rng.random() < 0.5

    def send(client: Client, url: str) -> Any:
        config = client.config
        event = next(d for d in config["dependencies"] if d.get("api_name") == "stylize")
        data: list[Any] = [None] * len(event["inputs"])
        data = data[: rng.randint(0, len(data) - 1)] if missing else data + ["extra"] * rng.randint(1, 5)
        return raw_queue_call(url, event["id"], data)

    return Case("parameters missing / extra", "missing" if missing else "extra", "parameters", send)


def video_case(rng: random.Random, files: Files) -> Case:
    import av

    kind = rng.choice(["corrupt container", "no frames", "huge frames", "picture renamed .mp4", "random bytes .mp4",
                       "empty .mp4", "tiny clip"])  # fmt: skip
    path = files.folder / uuid.uuid4().hex / "clip.mp4"
    path.parent.mkdir(parents=True)
    if kind in ("corrupt container", "tiny clip", "huge frames", "no frames"):
        size = (rng.choice([3840, 4096]), 2160) if kind == "huge frames" else (64, 48)
        frames = 0 if kind == "no frames" else 1 if kind == "huge frames" else 3
        with av.open(str(path), mode="w") as container:
            stream = container.add_stream("libx264", rate=8, options={"preset": "ultrafast"})
            stream.width, stream.height, stream.pix_fmt = *size, "yuv420p"
            for _ in range(frames):
                frame = av.VideoFrame.from_image(_gradient(rng, size)).reformat(format="yuv420p")
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))
        if kind == "corrupt container":
            data = bytearray(path.read_bytes())
            for _ in range(rng.randint(1, 40)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            path.write_bytes(bytes(data[: rng.randint(len(data) // 3, len(data))]))
    elif kind == "picture renamed .mp4":
        path.write_bytes(_encoded(_gradient(rng), "JPEG"))
    elif kind == "random bytes .mp4":
        path.write_bytes(rng.randbytes(rng.randint(1, 5000)))
    else:
        path.write_bytes(b"")

    def send(client: Client, url: str) -> Any:
        clip = handle_file(str(path))
        style = handle_file(str(EXAMPLES / "style_swirls.jpg"))
        return client.submit(clip, style, 64, 0.0, 2, api_name="/stylize_video").result(timeout=CASE_GUARD)

    return Case(f"video: {kind}", kind, "video", send)


MAKERS: list[tuple[Callable[[random.Random, Files], Case], int]] = [
    (image_case, 10),
    (mask_case, 5),
    (editor_case, 2),
    (setting_case, 6),
    (parameters_case, 1),
    (video_case, 2),
]


def make_cases(count: int, seed: int, files: Files, *, video: bool = True) -> list[Case]:
    """``count`` cases, the same for the same ``seed``; ``video``: include the video endpoint."""
    rng = random.Random(seed)
    makers = [(make, weight) for make, weight in MAKERS if video or make is not video_case]
    return [rng.choices([m for m, _ in makers], [w for _, w in makers])[0](rng, files) for _ in range(count)]


def raw_queue_call(url: str, fn_index: int, data: list[Any]) -> Any:
    """Join the queue as a browser does, with ``data`` as it is; the result, or ``AppError`` with the message."""
    session = uuid.uuid4().hex
    body = {"data": data, "fn_index": fn_index, "session_hash": session, "event_data": None, "trigger_id": None}
    request = urllib.request.Request(
        url + "gradio_api/queue/join", json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=CASE_GUARD) as response:
            response.read()
    except urllib.error.HTTPError as error:
        raise AppError(error.read().decode("utf-8", "replace")) from None
    with urllib.request.urlopen(f"{url}gradio_api/queue/data?session_hash={session}", timeout=CASE_GUARD) as stream:
        for line in stream:
            if line.startswith(b"data:"):
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed":
                    output = message.get("output") or {}
                    if not message.get("success"):
                        raise AppError(str(output.get("error")))
                    return output.get("data")
    raise AppError("the queue's stream ended without a result")


# ---------------------------------------------------------------------------------------------------------------
# Running


def judge(case: Case, error: str | None) -> str:
    """The outcome of ``case`` given the message it was refused with (``None``: it was done)."""
    if error is None:
        return "done"
    text = error.lower()
    named = NAMES.get(case.target, case.target).lower() in text
    if case.target == "parameters":  # whichever input the shifted or missing values land in must be named
        named = "setting '" in text or "image" in text or "parameter" in text
    elif case.target in {*NUMERIC, *CHOICES, *FLAGS}:
        named = case.target in error or case.target.replace("_", " ") in text
    reasonless = text.strip(" .") in ("error", "none", "") or any(sign in error for sign in TRACEBACK_SIGNS)
    return "refused" if named and not reasonless else "unclear"


def run_case(case: Case, client: Client, server: AppProcess) -> tuple[str, str]:
    """Send one case; its outcome and what came back (cut short)."""
    try:
        case.send(client, server.url)
        outcome, said = "done", ""
    except AppError as error:
        said = str(error)
        outcome = judge(case, said)
    except FutureTimeout:
        return "hang", f"no answer in {CASE_GUARD:.0f} s"
    except Exception as error:  # the client's own refusal of a value it cannot send, or a broken connection
        said = f"{type(error).__name__}: {error}"
        outcome = "crash" if not server.answers() else "client refused" if _client_side(error) else "unclear"
    if not server.alive() or not server.answers():
        return "crash", said[:200]
    return outcome, said[:200]


def _client_side(error: Exception) -> bool:
    """Whether ``gradio_client`` refused the value itself, before sending it (JSON cannot carry NaN, say)."""
    return isinstance(error, (ValueError, TypeError)) and "http" not in type(error).__module__


def normal_job(client: Client) -> bool:
    """Whether a plain job still comes back done."""
    content, style = handle_file(str(EXAMPLES / "coffee.jpg")), handle_file(str(EXAMPLES / "style_swirls.jpg"))
    _, _, status, *_ = client.submit(content=content, style=style, **JOB, api_name="/stylize").result(
        timeout=CASE_GUARD
    )
    return str(status).startswith("**Done**")


def table(results: list[tuple[Case, str, str]]) -> str:
    """Cases by kind and outcome, as a Markdown table."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for case, outcome, _ in results:
        counts[case.kind][outcome] += 1
    columns = [o for o in (*OUTCOMES, "client refused") if any(c[o] for c in counts.values()) or o in FAILURES]
    lines = ["| kind | cases | " + " | ".join(columns) + " |", "|---|---:|" + "---:|" * len(columns)]
    for kind in sorted(counts):
        row = counts[kind]
        lines.append(f"| {kind} | {sum(row.values())} | " + " | ".join(str(row[o]) for o in columns) + " |")
    total = Counter(outcome for _, outcome, _ in results)
    lines.append(f"| **all** | **{len(results)}** | " + " | ".join(f"**{total[o]}**" for o in columns) + " |")
    return "\n".join(lines)


def fuzz(count: int, seed: int, folder: Path, *, log: Callable[[str], None] = print) -> tuple[bool, str]:
    """Run ``count`` cases of ``seed`` against a fresh server under ``folder``; (passed, the table)."""
    with AppProcess(folder / "server") as server:
        client = Client(server.url, verbose=False)
        video = "/stylize_video" in client.view_api(return_format="dict", print_info=False)["named_endpoints"]
        if not video:
            log("The app has no /stylize_video endpoint: video cases left out.")
        results = []
        for index, case in enumerate(make_cases(count, seed, Files(folder / "files"), video=video)):
            outcome, said = run_case(case, client, server)
            results.append((case, outcome, said))
            if outcome in FAILURES:
                log(f"case {index} ({case.kind}: {case.description}): {outcome}: {said}")
            if outcome == "crash":
                break
        after = server.alive() and normal_job(client)
    text = table(results)
    failures = sum(outcome in FAILURES for _, outcome, _ in results)
    summary = f"{len(results)} cases (seed {seed}): {failures} failures; a normal job after: "
    summary += "done" if after else "FAILED"
    return failures == 0 and after, f"{text}\n\n{summary}"


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: see the module's docstring. Exit status 0 when the run passes."""
    parser = argparse.ArgumentParser(description="Fuzz the app's API with generated cases.")
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="fuzz-") as folder:
        passed, text = fuzz(args.cases, args.seed, Path(folder))
    print(text)
    print("PASS" if passed else "FAIL")
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
