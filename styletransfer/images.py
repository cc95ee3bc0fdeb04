"""Loading, validating, resizing and converting images, and colour handling.

Everything that touches user files lives here, so that the rest of the
package only ever sees clean 8-bit sRGB ``PIL.Image`` objects or float
tensors in [0, 1] with shape (1, 3, H, W).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError
from torch import Tensor

ImageInput = str | os.PathLike | bytes | Image.Image | np.ndarray

#: Images declaring more pixels than this are refused before decoding (decompression bombs).
MAX_INPUT_PIXELS = 100_000_000
#: The shortest side an input image may have.
MIN_INPUT_SIDE = 16
#: The formats opened, by PIL's names: photos and paintings come as JPEG, PNG, WebP, GIF, BMP or TIFF (a phone's
#: multi-picture JPEG, MPO, is opened by PIL's JPEG reader, which hands it on). No other decoder runs on a
#: stranger's file: PIL knows dozens, and some hand the file to other programs (EPS to Ghostscript, which would run
#: the file's PostScript).
IMAGE_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
#: How the message for any other file names them.
_FORMAT_NAMES = "JPEG, PNG, WebP, GIF, BMP or TIFF"


class ImageError(ValueError):
    """An input that is not a usable image; the message says why, for a person."""


def load_image(source: ImageInput, *, max_side: int | None = None, name: str = "image") -> Image.Image:
    """Open ``source`` as an 8-bit RGB image, ready for style transfer.

    Accepts a path, raw bytes, a PIL image or an (H, W[, C]) array. Honours EXIF
    orientation, takes the first frame of animations, converts ICC-tagged images
    to sRGB, composites transparency on white and maps 16-bit and float images to
    8 bits. With ``max_side``, large images are downscaled so that their long side
    is at most ``max_side`` (JPEGs are decoded at reduced size where possible).
    Raises :class:`ImageError` with a readable message for anything unusable.
    """
    image = open_image(source, name=name)
    if max_side is not None and image.format == "JPEG":
        image.draft("RGB", (max_side, max_side))
    try:
        image.seek(0)
        image.load()
        image = ImageOps.exif_transpose(image)
        image = _to_srgb(image)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise ImageError(f"The {name} could not be decoded; the file may be truncated or corrupt ({error}).") from None
    if min(image.size) < MIN_INPUT_SIDE:
        raise ImageError(
            f"The {name} is {image.width}×{image.height} pixels; each side must be at least {MIN_INPUT_SIDE}."
        )
    if max_side is not None and max(image.size) > max_side:
        image = resize_long_side(image, max_side)
    return image


def open_image(source: ImageInput, *, name: str = "image", max_pixels: int = MAX_INPUT_PIXELS) -> Image.Image:
    """Open ``source`` without decoding its pixels, and check what its header declares.

    Cheap enough to vet an upload before any other work: raises :class:`ImageError`
    for files that are not images in one of :data:`IMAGE_FORMATS` and for images
    with more than ``max_pixels`` pixels (decompression bombs). The result is a lazy PIL
    image; close it when done if it will not be loaded.
    """
    image = _open(source, name)
    width, height = image.size
    if width * height > max_pixels:
        image.close()
        raise ImageError(_too_many_pixels(name, f"is {width}×{height} pixels,", max_pixels))
    return image


def _open(source: ImageInput, name: str) -> Image.Image:
    """Open ``source`` lazily. PIL's own decompression-bomb limit (a process-wide setting, left as it is) is
    higher than :data:`MAX_INPUT_PIXELS`; the rare image over it gets the same message as :func:`open_image`'s."""
    if isinstance(source, Image.Image):
        return source.copy()
    if isinstance(source, np.ndarray):
        return _from_array(source, name)
    stream = io.BytesIO(source) if isinstance(source, bytes) else Path(source)
    try:
        return Image.open(stream, formats=IMAGE_FORMATS)
    except FileNotFoundError:
        raise ImageError(f"The {name} file {source!s} does not exist.") from None
    except Image.DecompressionBombError:
        raise ImageError(_too_many_pixels(name, "declares far", MAX_INPUT_PIXELS)) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise ImageError(f"The {name} is not an image that can be read ({_FORMAT_NAMES} are accepted).") from None


def _too_many_pixels(name: str, size: str, max_pixels: int) -> str:
    """The message for an image over ``max_pixels``; ``size`` says how big it is ("is W×H pixels,")."""
    return (
        f"The {name} {size} more than the {max_pixels / 1_000_000:g} megapixels accepted. Please use a smaller image."
    )


def _from_array(array: np.ndarray, name: str) -> Image.Image:
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4):
        raise ImageError(f"The {name} array has shape {array.shape}; expected (H, W), (H, W, 3) or (H, W, 4).")
    if array.dtype != np.uint8:
        array = np.clip(np.nan_to_num(array.astype(np.float64)), 0.0, 1.0 if array.max(initial=0) <= 1.0 else 255.0)
        array = (array * (255.0 if array.max(initial=0) <= 1.0 else 1.0)).round().astype(np.uint8)
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    return Image.fromarray(array)


def _to_srgb(image: Image.Image) -> Image.Image:
    """Convert any PIL mode (and any ICC profile) to 8-bit sRGB, transparency on white."""
    icc_profile = image.info.get("icc_profile")
    if icc_profile and image.mode in ("RGB", "RGBA", "CMYK", "L"):
        image = _apply_icc_profile(image, icc_profile)
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        high = (
            1.0
            if image.mode == "F" and values.max(initial=0) <= 1.0
            else (65535.0 if values.max(initial=0) > 255 else 255.0)
        )
        image = Image.fromarray((np.clip(np.nan_to_num(values) / high, 0, 1) * 255).round().astype(np.uint8))
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return image.convert("RGB")


def _apply_icc_profile(image: Image.Image, icc_profile: bytes) -> Image.Image:
    try:
        source_profile = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
        output_mode = "RGBA" if image.mode == "RGBA" else "RGB"
        return ImageCms.profileToProfile(image, source_profile, ImageCms.createProfile("sRGB"), outputMode=output_mode)
    except (ImportError, OSError, ValueError, TypeError, ImageCms.PyCMSError):
        # A broken or unsupported profile: keep the pixels as they are.
        return image


def resize_long_side(image: Image.Image, long_side: int) -> Image.Image:
    """Resize ``image`` so that its longer side is ``long_side`` pixels, keeping its aspect ratio."""
    return image.resize(scaled_size(image.size, long_side), Image.Resampling.LANCZOS)


def scaled_size(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    """Return (width, height) with the given long side and the aspect ratio of ``size``."""
    width, height = size
    factor = long_side / max(width, height)
    return max(1, round(width * factor)), max(1, round(height * factor))


def to_tensor(image: Image.Image, device: torch.device | str = "cpu") -> Tensor:
    """Convert an RGB image to a float tensor in [0, 1] of shape (1, 3, H, W)."""
    array = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0).contiguous().to(device)


#: Pixels converted at a time by :func:`to_image`: a band of rows, so that a print-size picture needs no
#: full-size temporary copies in float.
CONVERSION_BAND_PIXELS = 2**20


def to_image(tensor: Tensor) -> Image.Image:
    """Convert a (1, 3, H, W) or (3, H, W) tensor in [0, 1] to an RGB image, a band of rows at a time."""
    picture = tensor.detach().squeeze(0)
    _, height, width = picture.shape
    array = np.empty((height, width, 3), dtype=np.uint8)
    rows = max(1, CONVERSION_BAND_PIXELS // width)
    for top in range(0, height, rows):
        band = picture[:, top : top + rows].float().clamp(0, 1).mul(255).round().byte()
        array[top : top + rows] = band.permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(array)


# BT.601 full-range YCbCr, as JPEG uses it.
_RGB_TO_YCBCR = torch.tensor([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])


def rgb_to_ycbcr(rgb: Tensor) -> Tensor:
    """Convert (N, 3, H, W) RGB in [0, 1] to YCbCr with Cb and Cr centred on 0."""
    return torch.einsum("ij,njhw->nihw", _RGB_TO_YCBCR.to(rgb), rgb)


def ycbcr_to_rgb(ycbcr: Tensor) -> Tensor:
    """Inverse of :func:`rgb_to_ycbcr`."""
    return torch.einsum("ij,njhw->nihw", torch.linalg.inv(_RGB_TO_YCBCR).to(ycbcr), ycbcr)


def luminance(rgb: Tensor) -> Tensor:
    """Return the luminance of ``rgb`` as a 3-channel grey image of the same shape."""
    return rgb_to_ycbcr(rgb)[:, :1].expand_as(rgb).contiguous()


def match_luminance(style: Tensor, content: Tensor) -> Tensor:
    """Grey version of ``style`` whose luminance has the mean and spread of ``content``'s."""
    style_y, content_y = luminance(style)[:, :1], luminance(content)[:, :1]
    matched = (style_y - style_y.mean()) / style_y.std().clamp_min(1e-6) * content_y.std() + content_y.mean()
    return matched.clamp(0, 1).expand_as(style).contiguous()


def with_chroma_of(luma_source: Tensor, chroma_source: Tensor) -> Tensor:
    """Combine the luminance of ``luma_source`` with the chroma (Cb, Cr) of ``chroma_source``."""
    luma = rgb_to_ycbcr(luma_source)[:, :1]
    chroma = rgb_to_ycbcr(chroma_source)[:, 1:]
    return ycbcr_to_rgb(torch.cat([luma, chroma], dim=1)).clamp(0, 1)


def match_color_histogram(source: Tensor, reference: Tensor) -> Tensor:
    """Recolour ``source`` so that its RGB mean and covariance equal ``reference``'s.

    This is the linear colour transfer of Gatys et al., "Preserving Color in
    Neural Artistic Style Transfer" (2016), with symmetric matrix square roots.
    """
    src = source.reshape(3, -1).double()
    ref = reference.reshape(3, -1).double()
    src_mean, ref_mean = src.mean(1, keepdim=True), ref.mean(1, keepdim=True)
    eye = torch.eye(3, dtype=torch.float64, device=src.device) * 1e-5
    src_cov = torch.cov(src) + eye
    ref_cov = torch.cov(ref) + eye
    transform = _matrix_power(ref_cov, 0.5) @ _matrix_power(src_cov, -0.5)
    matched = transform @ (src - src_mean) + ref_mean
    return matched.reshape(source.shape).to(source.dtype).clamp(0, 1)


def _matrix_power(matrix: Tensor, power: float) -> Tensor:
    values, vectors = torch.linalg.eigh(matrix)
    return vectors @ torch.diag(values.clamp_min(1e-12).pow(power)) @ vectors.T
