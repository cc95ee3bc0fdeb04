"""The optimisation loop: scales, optimiser, progress events and stopping.

:meth:`Stylizer.stylize` is a generator. It yields a :class:`Progress` after
every optimiser iteration, with a preview image every ``preview_every``
iterations, and the full-size result in the last event. Closing the generator
(or just dropping it) stops the work before the next iteration.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from . import faces, images, tiling
from .config import MIN_SIDE, StyleConfig
from .device import Precision, device_label, pick_device, pick_precision, release_cached_memory
from .features import VGG19Features, multiply_adds_per_pixel
from .losses import LossTerms, Objective, StyleRegion
from .memory import MemoryPlan, available_memory, plan_scale
from .output_scale import scale_config
from .regions import EMPTY_MASK, Regions, make_regions
from .tiling import Tile, assembled, cut, statistics, whole
from .weights import BackboneWeights, load_weights

if TYPE_CHECKING:
    from .video import VideoProgress

#: Above this long side (print sizes), a job's plan adds one scale per doubling (see :func:`scale_sizes`).
PRINT_SIDE = 1024
#: A tiled evaluation's first pass, a forward without gradients, against one forward and backward.
TILED_FIRST_PASS = 1 / 3

Plan = list[tuple[tuple[int, int], int]]
"""A job's scales, coarse to fine: each one's (width, height) and its iterations (see :func:`scale_plan`)."""
ExtraTerms = Mapping[str, Callable[[Tensor], Tensor]]
"""Loss terms a caller adds to a job's objective at its output scale, by name: each maps the picture (1, 3, H, W)
to a weighted scalar that is added to the total (such as the video's temporal loss)."""


class OutOfMemoryError(RuntimeError):
    """The device ran out of memory; its memory has been released and the next job can run."""


def _is_out_of_memory(error: BaseException) -> bool:
    if isinstance(error, (torch.OutOfMemoryError, MemoryError)):
        return True
    message = str(error).lower()
    return "out of memory" in message or "can't allocate memory" in message


@dataclass(frozen=True)
class Progress:
    """One optimiser iteration's report."""

    iteration: int
    """Iterations done so far, counted over all scales (1-based)."""
    total_iterations: int
    scale: int
    """Index of the current scale, 0 for the coarsest."""
    scales: int
    size: tuple[int, int]
    """(width, height) of the image being optimised at this scale."""
    losses: dict[str, float]
    """The loss terms before this iteration's step, each weighted as in the total: ``total`` (their sum),
    ``content``, ``style`` and ``tv`` (see :data:`~styletransfer.losses.LossTerms`)."""
    elapsed: float
    """Seconds since the stylization started."""
    fraction_done: float
    """Share of the whole job's work done, weighted by each scale's pixel count."""
    image: Image.Image | None = None
    """A preview every ``preview_every`` iterations; the full-size result when ``final``."""
    final: bool = False
    note: str | None = None
    """Why the job ended early, when it did (the time limit)."""
    tiles: int = 1
    """How many tiles this scale's evaluations are cut into to fit in memory (1: the whole picture at once; see
    :mod:`styletransfer.tiling`)."""

    @property
    def seconds_left(self) -> float:
        """An estimate of the time still needed, from the pace so far."""
        if self.fraction_done <= 0:
            return float("nan")
        return self.elapsed * (1 - self.fraction_done) / self.fraction_done


class Stylizer:
    """A loaded backbone on a device, ready to stylize images; reuse it across jobs."""

    def __init__(
        self,
        weights: BackboneWeights | str | os.PathLike = "auto",
        *,
        device: str | torch.device | None = None,
        precision: Precision = "auto",
    ) -> None:
        self.weights = weights if isinstance(weights, BackboneWeights) else load_weights(weights)
        self.device = pick_device(device)
        self.precision = pick_precision(self.device, precision)
        self._networks: dict[tuple, VGG19Features] = {}

    @property
    def description(self) -> str:
        """Device, precision and weights, for a status line."""
        return f"{device_label(self.device, self.precision)}; weights: {self.weights.description}"

    def network(self, layers: Sequence[str], pooling: str) -> VGG19Features:
        """The feature extractor for these layers and pooling, built once and kept; it runs in this stylizer's
        precision (bf16 features where :attr:`precision` is ``"bf16"``)."""
        key = (tuple(layers), pooling)
        if key not in self._networks:
            dtype = torch.bfloat16 if self.precision == "bf16" else torch.float32
            net = VGG19Features(self.weights.state, self.weights.normalization, list(layers), pooling, dtype)
            self._networks[key] = net.to(self.device, memory_format=torch.channels_last)
        return self._networks[key]

    def stylize(
        self,
        content: images.ImageInput,
        styles: images.ImageInput | Sequence[images.ImageInput],
        config: StyleConfig | None = None,
        *,
        masks: Sequence[images.ImageInput | None] | None = None,
        keep_mask: images.ImageInput | None = None,
        style_masks: Sequence[images.ImageInput | None] | None = None,
        initial: images.ImageInput | None = None,
        extra_terms: ExtraTerms | None = None,
        **settings,
    ) -> Iterator[Progress]:
        """Repaint ``content`` in the style of ``styles``, yielding progress as it goes.

        ``settings`` override fields of ``config`` (see :class:`StyleConfig`).
        Images may be paths, bytes, PIL images or arrays.

        Regions (see :mod:`styletransfer.regions`): ``masks`` gives each style image
        its region on the photo, in order (``None``: everywhere); ``keep_mask`` a
        region that stays the photo; ``style_masks`` the part of each style image
        that feeds its region. Masks may be of any size; white is the region.

        ``initial``: a picture to start from (resized to the output size) instead of the coarser scales' result; the
        job is then the output scale only (a video's later frames start from the previous one, warped).
        ``extra_terms`` are added to the objective at the output scale (see :data:`ExtraTerms`).

        Bad images or settings raise at once; the memory plan is made when the
        first event is asked for, so a job too big even in tiles raises then.
        """
        config = config or StyleConfig()
        if settings:
            config = config.updated(**settings)
        style_list = list(styles) if isinstance(styles, (list, tuple)) else [styles]
        if not style_list:
            raise ValueError("At least one style image is needed.")
        if config.style_weights is not None and len(config.style_weights) != len(style_list):
            raise ValueError(f"{len(style_list)} style images but {len(config.style_weights)} style weights.")
        content_image = images.load_image(content, max_side=config.size, name="content image")
        plan = scale_plan(content_image.size, config)
        if initial is not None:
            plan = plan[-1:]
            initial = images.load_image(initial, name="initial picture").resize(plan[0][0], Image.Resampling.BICUBIC)
        _check_work(plan, config.work_limit)
        style_images = [
            images.load_image(
                s,
                max_side=_style_max_side(config),
                name=f"style image {i + 1}" if len(style_list) > 1 else "style image",
            )
            for i, s in enumerate(style_list)
        ]
        found = faces.face_mask(content_image.size, faces.find_faces(content_image)) if config.faces == "auto" else None
        regions = make_regions(
            content_image.size,
            len(style_images),
            masks,
            keep_mask,
            style_masks,
            feather=config.mask_feather,
            faces=found,
        )
        job = self._planned(content_image, style_images, config, plan, regions, initial, extra_terms)
        return self._releasing(job, plan[-1][0])

    def _planned(
        self,
        content_image: Image.Image,
        style_images: list[Image.Image],
        config: StyleConfig,
        plan: Plan,
        regions: Regions | None,
        initial: Image.Image | None = None,
        extra_terms: ExtraTerms | None = None,
    ) -> Iterator[Progress]:
        """The job, its memory planned (see :mod:`styletransfer.memory`) only when its first event is asked for: by
        then whoever runs it holds the device (the app's device lock), so the free memory it plans with is what the
        job before it left, not what that job still held."""
        budget = config.max_memory or available_memory(self.device)
        memory = [
            plan_scale(size, scale_config(config, scale, len(plan)).network_layers, budget)
            for scale, (size, _) in enumerate(plan)
        ]
        yield from self._optimise(
            content_image, style_images, config, plan, regions, memory, budget, initial, extra_terms
        )

    def stylize_image(
        self, content: images.ImageInput, styles, config: StyleConfig | None = None, **settings
    ) -> Image.Image:
        """Run a whole stylization and return only the final image (``settings`` as for :meth:`stylize`, masks
        included)."""
        for event in self.stylize(content, styles, config, **settings):
            if event.final:
                return event.image
        raise RuntimeError("The stylization ended without a final image.")  # unreachable by construction

    def stylize_video(
        self,
        video: str | os.PathLike,
        styles: images.ImageInput | Sequence[images.ImageInput],
        config: StyleConfig | None = None,
        *,
        output: str | os.PathLike | None = None,
        **settings,
    ) -> Iterator[VideoProgress]:
        """Repaint the clip ``video`` frame by frame, each frame kept consistent with the one before, yielding
        progress as it goes; see :func:`styletransfer.video.stylize_video`."""
        from .video import stylize_video  # the per-frame loop is built on this module's jobs

        return stylize_video(self, video, styles, config, output=output, **settings)

    def output_objective(
        self, content: images.ImageInput, styles: images.ImageInput | Sequence[images.ImageInput], config: StyleConfig
    ) -> tuple[Evaluation, Tensor]:
        """The objective that a job with ``config`` minimises at its output size, as one whole-picture
        :class:`Evaluation` (no regions, no tiles, the whole network whatever ``output_depth`` says), and the photo
        at that size, the job's starting picture.

        For measuring pictures against the job's own aim: the benchmarks' same-objective reference minimises it,
        and scores our finished pictures with it."""
        style_list = list(styles) if isinstance(styles, (list, tuple)) else [styles]
        content_image = images.load_image(content, max_side=config.size, name="content image")
        size = scale_sizes(content_image.size, config)[-1]
        photo = images.to_tensor(content_image.resize(size, Image.Resampling.LANCZOS), self.device)
        style_tensors = [
            images.to_tensor(
                _resize_style(images.load_image(s, max_side=_style_max_side(config)), size, config.style_scale),
                self.device,
            )
            for s in style_list
        ]
        target_content, style_tensors = _color_inputs(photo, style_tensors, config.preserve_color)
        net = self.network(config.network_layers, config.pooling)
        blend = _normalised_blend(config.style_weights, len(style_tensors))
        budget = config.max_memory or available_memory(self.device)
        objective = self._objective(
            net, target_content, style_tensors, blend, config, None, whole((size[1], size[0])), budget
        )
        return Evaluation(net, objective), target_content

    def _releasing(self, events: Iterator[Progress], size: tuple[int, int]) -> Iterator[Progress]:
        """``events`` (a job's :meth:`_optimise`, towards a picture of ``size``), handing the memory it used back
        however it ends, and saying so if it ran out."""
        ran_out = False
        try:
            yield from events
        except (torch.OutOfMemoryError, MemoryError, RuntimeError) as error:
            if not _is_out_of_memory(error):
                raise
            ran_out = True  # raised below, once the failed job's tensors (held by this traceback) are gone
        finally:
            release_cached_memory(self.device)
        if ran_out:
            width, height = size
            raise OutOfMemoryError(
                f"Ran out of memory on {device_label(self.device, self.precision)} at {width}×{height} pixels. "
                "Try a smaller output size."
            )

    def _optimise(
        self,
        content_image: Image.Image,
        style_images: list[Image.Image],
        config: StyleConfig,
        plan: Plan,
        regions: Regions | None,
        memory: list[MemoryPlan],
        budget: int,
        initial: Image.Image | None = None,
        extra_terms: ExtraTerms | None = None,
    ) -> Iterator[Progress]:
        """The coarse-to-fine optimisation itself, scale by scale as ``plan`` says, each within its ``memory``
        plan (of ``budget`` bytes in all): a :class:`Progress` after every iteration. The first scale starts from
        ``initial`` when given; ``extra_terms`` join the objective at the last scale."""
        start = time.perf_counter()
        total = sum(steps for _, steps in plan)
        configs = [scale_config(config, scale, len(plan)) for scale in range(len(plan))]
        work = [
            steps * _evaluation_cost(scale_memory, scale_settings.network_layers)
            for (_, steps), scale_memory, scale_settings in zip(plan, memory, configs, strict=True)
        ]
        blend = _normalised_blend(config.style_weights, len(style_images))
        generator = torch.Generator().manual_seed(config.seed)
        image: Tensor | None = None
        done = 0
        for scale, ((width, height), steps) in enumerate(plan):
            content = images.to_tensor(content_image.resize((width, height), Image.Resampling.LANCZOS), self.device)
            styles = [
                images.to_tensor(_resize_style(s, (width, height), config.style_scale), self.device)
                for s in style_images
            ]
            target_content, styles = _color_inputs(content, styles, config.preserve_color)
            layers = configs[scale].network_layers
            net = self.network(layers, config.pooling)
            tiles = _tiles_of(memory[scale], layers)
            keep = regions.keep_weights((width, height), self.device) if regions is not None else None
            if initial is not None and image is None:
                image = images.to_tensor(initial, self.device)
            image = _initial_image(
                image, target_content, styles[0], config.init, generator, after_coarser_scale=scale > 0
            )
            objective = self._objective(net, target_content, styles, blend, configs[scale], regions, tiles, budget)
            image.requires_grad_(True)
            extra = extra_terms if scale == len(plan) - 1 else None
            evaluation = Evaluation(net, objective, tiles if memory[scale].tiled else None, extra)
            step = _make_step(image, evaluation, config, memory[scale].history)
            for step_index in range(1, steps + 1):
                terms = step()
                done += 1
                elapsed = time.perf_counter() - start
                out_of_time = config.time_limit is not None and elapsed >= config.time_limit and done < total
                final = done == total or out_of_time
                picture = None
                if final:
                    picture = self._final_picture(image, content_image, plan[-1][0], config.preserve_color, regions)
                elif config.preview_every and done % config.preview_every == 0:
                    picture = images.to_image(_finish(image, content, config.preserve_color, keep))
                yield Progress(
                    iteration=done,
                    total_iterations=total,
                    scale=scale,
                    scales=len(plan),
                    size=(width, height),
                    losses=_floats(terms),
                    elapsed=elapsed,
                    fraction_done=(sum(work[:scale]) + work[scale] * step_index / steps) / sum(work),
                    image=picture,
                    final=final,
                    note=f"Stopped at the {config.time_limit:g} s time limit; this is the picture so far."
                    if out_of_time
                    else None,
                    tiles=memory[scale].tiles,
                )
                if final:
                    return
            image = image.detach()

    def _final_picture(
        self,
        image: Tensor,
        content_image: Image.Image,
        size: tuple[int, int],
        color_mode: str,
        regions: Regions | None,
    ) -> Image.Image:
        """The result at full output size, even when the job stopped at a coarser scale."""
        content = images.to_tensor(content_image.resize(size, Image.Resampling.LANCZOS), self.device)
        image = image.detach()
        if tuple(image.shape[-2:]) != content.shape[-2:]:
            image = F.interpolate(image, size=content.shape[-2:], mode="bicubic", align_corners=False)
        keep = regions.keep_weights(size, self.device) if regions is not None else None
        return images.to_image(_finish(image, content, color_mode, keep))

    @torch.no_grad()
    def _objective(
        self,
        net: VGG19Features,
        content: Tensor,
        styles: list[Tensor],
        blend: list[float],
        config: StyleConfig,
        regions: Regions | None,
        tiles: list[Tile],
        budget: int,
    ) -> Objective:
        """The objective at one scale: the content's features, and each style's statistics, blended over the whole
        picture, or each over its own region when ``regions`` guide them. ``tiles`` cut the content, and each
        style image is cut as ``budget`` bytes allow (see :mod:`styletransfer.tiling`)."""
        size = (content.shape[-1], content.shape[-2])
        layers = config.network_layers
        content_targets = {
            name: features.float() for name, features in assembled(net, content, tiles, config.content_layers).items()
        }
        guided = regions is not None and regions.guided
        sources = [
            regions.source_weights(index, (style.shape[-1], style.shape[-2]), self.device) if guided else None
            for index, style in enumerate(styles)
        ]
        style_targets = [
            statistics(
                net,
                style,
                _tiles_of(plan_scale((style.shape[-1], style.shape[-2]), layers, budget, keeps_picture=False), layers),
                config.style_layers,
                config.style_loss,
                source,
            )
            for style, source in zip(styles, sources, strict=True)
        ]
        if not guided:
            blended = {
                name: sum(weight * targets[name] for targets, weight in zip(style_targets, blend, strict=True))
                for name in config.style_layers
            }
            keep = regions.keep_weights(size, self.device) if regions is not None else None
            style_regions = [StyleRegion(blended, weights=None if keep is None else 1.0 - keep)]
        else:
            style_regions = _guided_regions(style_targets, blend, regions.style_weights(size, self.device))
        return Objective(
            content_targets,
            style_regions,
            config.content_weight,
            config.style_weight,
            config.tv_weight,
            style_loss=config.style_loss,
            style_layer_weights=config.layer_weights,
            content_weights=regions.content_weights(size, self.device, config.face_strength) if regions else None,
        )


def _guided_regions(
    style_targets: list[dict[str, Tensor]], blend: list[float], region_weights: list[Tensor]
) -> list[StyleRegion]:
    """Each style over its own region of the picture (``region_weights``), matched with its own part of the
    painting (``style_targets``); styles whose region is empty are left out."""
    guided = []
    for index, (targets, weights) in enumerate(zip(style_targets, region_weights, strict=True)):
        if float(weights.mean()) < EMPTY_MASK:
            continue
        # A region's loss counts by its area, so that each of its pixels is styled as firmly as without masks;
        # the blend weights (equal by default) then scale each style against the others.
        weight = float(weights.pow(2).mean()) * blend[index] * len(style_targets)
        guided.append(StyleRegion(targets, weight, weights))
    return guided


def _tiles_of(memory: MemoryPlan, layers: tuple[str, ...]) -> list[Tile]:
    """The tiles of a scale as its memory plan says (one tile, the whole picture, where it is untiled)."""
    width, height = memory.size
    return cut((height, width), memory.core, layers) if memory.tiled else whole((height, width))


def _evaluation_cost(memory: MemoryPlan, layers: tuple[str, ...]) -> float:
    """One evaluation's work: its pixels (the picture's, or in tiles every window's, plus the first pass's forward,
    about a third of a forward and backward) times the network's multiply-adds per pixel up to ``layers``."""
    per_pixel = multiply_adds_per_pixel(layers)
    if not memory.tiled:
        return memory.size[0] * memory.size[1] * per_pixel
    windows = sum((t.window[2] - t.window[0]) * (t.window[3] - t.window[1]) for t in _tiles_of(memory, layers))
    return windows * (1 + TILED_FIRST_PASS) * per_pixel


def scale_sizes(content_size: tuple[int, int], config: StyleConfig) -> list[tuple[int, int]]:
    """The (width, height) of each scale, coarse to fine, ending at the output size.

    The output's long side is ``config.size`` but never more than the content
    image's own. Up to :data:`PRINT_SIDE`, ``config.scales`` scales grow
    geometrically from ``config.min_size``; beyond it (print sizes), one scale
    more per doubling of the long side (… → 1024 → 2048 → 4096). Scales whose
    short side would be under :data:`MIN_SIDE` are skipped.
    """
    long_side = min(config.size, max(content_size))
    final = images.scaled_size(content_size, long_side)
    if min(final) < MIN_SIDE:  # only the photo can be too thin: a style image is resized to suit the network
        raise ValueError(
            f"The content image's aspect ratio is too extreme for this size: at {final[0]}×{final[1]} pixels its "
            f"short side would be under {MIN_SIDE}. Use a larger size or crop the photo."
        )
    if config.scales == 1 or long_side <= config.min_size:
        return [final]
    print_sides = []
    while long_side > max(PRINT_SIDE, config.min_size):
        print_sides.insert(0, long_side)
        long_side = round(long_side / 2)
    count = config.scales if long_side > config.min_size else 1
    longs = [round(config.min_size * (long_side / config.min_size) ** (i / (count - 1))) for i in range(count - 1)]
    sides = [*longs, long_side, *print_sides]
    sizes = [images.scaled_size(content_size, side) for side in sides[:-1]]
    return [size for size in sizes if min(size) >= MIN_SIDE] + [final]


def scale_plan(content_size: tuple[int, int], config: StyleConfig) -> Plan:
    """Each scale's (width, height) and its iterations, coarse to fine (see :func:`scale_sizes`): the output size
    gets ``config.iterations``, the others ``config.coarse_iterations``; a print size's scales above
    :data:`PRINT_SIDE` get fewer, ``config.iterations`` × 1024 / their long side, as each costs more and the
    picture is mostly settled below them (a single scale keeps ``config.iterations``)."""
    sizes = scale_sizes(content_size, config)
    plan = [(size, config.coarse_iterations) for size in sizes[:-1]] + [(sizes[-1], config.iterations)]
    if len(plan) == 1:
        return plan
    return [
        (size, steps if max(size) <= PRINT_SIDE else max(1, round(config.iterations * PRINT_SIDE / max(size))))
        for size, steps in plan
    ]


def job_work(plan: Plan) -> float:
    """A job's work in megapixel-iterations: each scale's pixels times its iterations, summed, in millions."""
    return sum(width * height * steps for (width, height), steps in plan) / 1e6


def _check_work(plan: Plan, limit: float | None) -> None:
    """Refuse a job whose work is over ``limit``, saying what it would be and how to shrink it."""
    work = job_work(plan)
    if limit is None or work <= limit:
        return
    (width, height), steps = plan[-1]
    coarser = "the coarser scale" if len(plan) == 2 else f"each of the {len(plan) - 1} coarser scales"
    coarse = f" and {plan[0][1]} at {coarser}" if len(plan) > 1 else ""
    raise ValueError(
        f"This job is too big for this server: {width}×{height} px with {steps} iterations{coarse} is "
        f"{work:.3g} megapixel-iterations, and the limit here is {limit:g}. Lower the size or the iterations."
    )


def _style_max_side(config: StyleConfig) -> int:
    return max(MIN_SIDE, round(config.size * config.style_scale))


def _resize_style(style: Image.Image, output_size: tuple[int, int], style_scale: float) -> Image.Image:
    long_side = round(max(output_size) * style_scale)
    # Keep the short side usable by the deepest layer, whatever the style's aspect ratio.
    long_side = max(long_side, round(MIN_SIDE * max(style.size) / min(style.size)))
    return images.resize_long_side(style, long_side)


def _normalised_blend(weights: tuple[float, ...] | None, count: int) -> list[float]:
    weights = weights or (1.0,) * count
    total = sum(weights)
    return [w / total for w in weights]


def _color_inputs(content: Tensor, styles: list[Tensor], mode: str) -> tuple[Tensor, list[Tensor]]:
    """The content target and style images as the chosen colour mode wants them."""
    if mode == "luminance":
        return images.luminance(content), [images.match_luminance(s, content) for s in styles]
    if mode == "histogram":
        return content, [images.match_color_histogram(s, content) for s in styles]
    return content, styles


def _finish(image: Tensor, content: Tensor, mode: str, keep: Tensor | None = None) -> Tensor:
    """The optimised image as the user sees it: clamped, recoloured in luminance mode, and the photo itself in the
    keep-photo region ``keep`` (1, 1, H, W), if any."""
    image = image.detach().clamp(0, 1)
    image = images.with_chroma_of(image, content) if mode == "luminance" else image
    return image if keep is None else keep * content + (1.0 - keep) * image


def _initial_image(
    previous: Tensor | None,
    content: Tensor,
    style: Tensor,
    init: str,
    generator: torch.Generator,
    *,
    after_coarser_scale: bool = False,
) -> Tensor:
    """The starting image of a scale: ``previous`` (the picture the job starts from, or the coarser scale's result)
    resized, or the chosen init.

    After a coarser scale, the photo's fine detail that the coarser scale could not hold is added back: the start
    is this scale's photo plus the coarser scale's change to the photo, upsampled, instead of a blur for the
    optimiser to sharpen. On tubingen × The Starry Night at 512 px (bf16) the output scale's objective after 10 of
    its 40 iterations fell from 1.11 to 0.87, and at the end from 0.653 to 0.632 (the benchmarks' README, "The
    change upsampled")."""
    size = content.shape[-2:]
    if previous is not None:
        upsampled = F.interpolate(previous, size=size, mode="bicubic", align_corners=False)
        if after_coarser_scale:
            coarse_photo = F.interpolate(content, size=previous.shape[-2:], mode="bilinear", antialias=True)
            upsampled = upsampled + content - F.interpolate(coarse_photo, size=size, mode="bicubic")
        return upsampled.clamp(0, 1).contiguous()
    if init == "noise":
        return torch.rand(content.shape, generator=generator).to(content.device)
    if init == "style":
        return F.interpolate(style, size=size, mode="bilinear", antialias=True, align_corners=False).contiguous()
    return content.clone()


@dataclass(frozen=True)
class Evaluation:
    """One evaluation of the objective at the picture, its gradient left in the picture's ``grad``: the whole
    picture at once, or tile by tile (``tiles``) with the same result."""

    net: VGG19Features
    objective: Objective
    tiles: list[Tile] | None = None
    extra: ExtraTerms | None = None
    """Terms of the picture's pixels added to the objective (see :data:`ExtraTerms`), their gradient too."""

    def __call__(self, image: Tensor) -> LossTerms:
        if self.tiles is not None:
            terms = tiling.evaluate(image, self.net, self.objective, self.tiles)
        else:
            terms = self.objective(self.net(image), image)
            terms["total"].backward()
            terms = {name: term.detach() for name, term in terms.items()}
        for name, term in (self.extra or {}).items():
            value = term(image)
            value.backward()
            terms[name] = value.detach()
            terms["total"] = terms["total"] + terms[name]
        return terms


#: The most one L-BFGS step may move a pixel: the whole [0, 1] range. Without a line search L-BFGS takes unit steps
#: along its quasi-Newton direction, and where its curvature estimate is off, that step can move pixels by many
#: times the range (8 to 25 measured at the coarsest scale), throwing the loss up 10⁴–10⁵-fold; sometimes it never
#: finds its way back (``python -m benchmarks.jumps``). Steps within the range are left alone.
MAX_STEP = 1.0


def _make_step(image: Tensor, evaluate: Evaluation, config: StyleConfig, history: int):
    """Return a function that runs one optimiser iteration and returns the loss terms, leaving the picture within
    [0, 1]; L-BFGS keeps ``history`` steps, none longer than :data:`MAX_STEP`."""
    if config.optimizer == "adam":
        optimizer = torch.optim.Adam([image], lr=config.learning_rate)

        def adam_step() -> LossTerms:
            optimizer.zero_grad(set_to_none=True)
            terms = evaluate(image)
            optimizer.step()
            with torch.no_grad():
                image.clamp_(0, 1)
            return terms

        return adam_step

    # One evaluation per step: L-BFGS keeps its curvature history between calls.
    # Zero tolerances: relative losses are small numbers, and the defaults would stop early.
    optimizer = torch.optim.LBFGS(
        [image], lr=1.0, max_iter=1, history_size=history, tolerance_grad=0.0, tolerance_change=0.0
    )
    last_terms: list[LossTerms] = []

    def closure() -> Tensor:
        optimizer.zero_grad(set_to_none=True)
        terms = evaluate(image)
        _hold_pixels_at_the_ends(image)
        last_terms.append(terms)
        return terms["total"]

    def lbfgs_step() -> LossTerms:
        last_terms.clear()
        steps_before = optimizer.state[image].get("n_iter", 0)
        optimizer.step(closure)
        if optimizer.state[image]["n_iter"] > steps_before:
            _shorten_overlong_step(optimizer, image)
            _keep_in_range(optimizer, image)
        return last_terms[0]

    return lbfgs_step


def _shorten_overlong_step(optimizer: torch.optim.LBFGS, image: Tensor) -> None:
    """Take back the part of the step L-BFGS just took beyond :data:`MAX_STEP` for any pixel, and tell L-BFGS the
    step's new length. ``torch.optim.LBFGS`` keeps its last step in its state as a direction ``d`` and a length
    ``t``, and forms the next curvature pair from them (``s = d·t``); the engine's tests fail if that changes."""
    state = optimizer.state[image]
    direction, length = state["d"], float(state["t"])
    longest = length * float(torch.linalg.vector_norm(direction, float("inf")))
    if longest > MAX_STEP:
        shorter = length * MAX_STEP / longest
        with torch.no_grad():
            image.add_(direction.view_as(image), alpha=shorter - length)
        state["t"] = shorter


def _hold_pixels_at_the_ends(image: Tensor) -> None:
    """Zero the gradient of every pixel at an end of [0, 1] that the gradient would push beyond it: L-BFGS then
    treats those pixels as fixed until their gradient turns back into the range, instead of proposing a move the
    clamp takes back at every step (see :func:`_keep_in_range`). Without it, a 96 px job with a mask clamped its
    way into jumps at the output scale and ended far from the photo outside the mask (20.6 levels of 255 against
    5.9 with it)."""
    with torch.no_grad():
        grad = image.grad
        grad.masked_fill_(((image <= 0) & (grad > 0)) | ((image >= 1) & (grad < 0)), 0.0)


def _keep_in_range(optimizer: torch.optim.LBFGS, image: Tensor) -> None:
    """Clamp the picture to [0, 1] after L-BFGS's step, and tell L-BFGS the step it took in the end.

    Unclamped, L-BFGS lowers its loss by pushing pixels beyond the range (the network reads any number), but a user
    gets the clamped picture, whose objective stays far higher: on tubingen × The Starry Night at 384×288 (bf16)
    the default job's picture scored 0.926 unclamped and 0.709–0.715 clamped (the benchmarks' README, "The
    picture kept in range"). The step L-BFGS remembers (``s = d·t``, see :func:`_shorten_overlong_step`) is
    corrected to the clamped one: left as proposed, its curvature pairs went wrong wherever many pixels sat at the
    range's ends, and a small job's loss jumped up to 60-fold again and again."""
    state = optimizer.state[image]
    with torch.no_grad():
        clamped = image.clamp(0, 1)
        state["d"].add_((clamped - image).view(-1), alpha=1.0 / float(state["t"]))
        image.copy_(clamped)


def _floats(terms: LossTerms) -> dict[str, float]:
    """The loss terms as numbers, read from the device in one transfer."""
    values = torch.stack(list(terms.values())).tolist()
    return dict(zip(terms, values, strict=True))


@lru_cache(maxsize=4)
def default_stylizer(weights: str = "auto", device: str | None = None) -> Stylizer:
    """A process-wide :class:`Stylizer`, loaded once per (weights, device)."""
    return Stylizer(weights, device=device)


def stylize(
    content: images.ImageInput,
    styles: images.ImageInput | Sequence[images.ImageInput],
    config: StyleConfig | None = None,
    *,
    weights: str = "auto",
    device: str | None = None,
    **settings,
) -> Iterator[Progress]:
    """Stylize with the process-wide backbone; see :meth:`Stylizer.stylize`."""
    return default_stylizer(weights, device).stylize(content, styles, config, **settings)


def stylize_image(
    content: images.ImageInput,
    styles: images.ImageInput | Sequence[images.ImageInput],
    config: StyleConfig | None = None,
    *,
    weights: str = "auto",
    device: str | None = None,
    **settings,
) -> Image.Image:
    """Stylize and return only the final image; see :meth:`Stylizer.stylize_image`."""
    return default_stylizer(weights, device).stylize_image(content, styles, config, **settings)
