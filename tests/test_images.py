"""Image loading: every kind of file a public demo receives, made here as real files."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageCms

from styletransfer import ImageError, load_image
from styletransfer.images import MAX_INPUT_PIXELS, match_color_histogram, rgb_to_ycbcr, to_tensor, ycbcr_to_rgb
from tests.corpus import CASES, SIZE, Case, gradient


def saved(image: Image.Image, path, **options):
    image.save(path, **options)
    return path


@pytest.mark.parametrize("extension", ["jpg", "png", "webp", "gif", "bmp", "tiff"])
def test_every_common_format_loads_as_rgb(tmp_path, extension):
    loaded = load_image(saved(gradient(), tmp_path / f"picture.{extension}"))
    assert loaded.mode == "RGB" and loaded.size == (96, 64)


@pytest.mark.parametrize("mode", ["L", "P", "CMYK", "I", "F", "1", "LA", "RGBA", "I;16"])
def test_every_pil_mode_becomes_rgb(mode):
    source = gradient().convert("L").convert(mode) if mode in ("I", "F", "I;16") else gradient().convert(mode)
    loaded = load_image(source)
    assert loaded.mode == "RGB" and loaded.size == (96, 64)


def test_sixteen_bit_png_keeps_its_levels(tmp_path):
    levels = (np.linspace(0, 65535, 96)[None, :].repeat(64, 0)).astype(np.uint16)
    path = saved(Image.fromarray(levels), tmp_path / "deep.png")
    grey = np.asarray(load_image(path))[..., 0]
    assert grey[0, 0] == 0 and grey[0, -1] == 255 and 120 < grey[0, 48] < 136


def test_float_tiff_in_unit_range(tmp_path):
    values = np.linspace(0, 1, 96, dtype=np.float32)[None, :].repeat(64, 0)
    grey = np.asarray(load_image(saved(Image.fromarray(values, mode="F"), tmp_path / "float.tiff")))[..., 0]
    assert grey[0, 0] == 0 and grey[0, -1] == 255


def test_transparency_is_composited_on_white():
    clear = Image.new("RGBA", (64, 64), (255, 0, 0, 0))
    assert np.asarray(load_image(clear))[0, 0].tolist() == [255, 255, 255]
    half = Image.new("LA", (64, 64), (0, 128))
    assert 120 < np.asarray(load_image(half))[0, 0, 0] < 136


def test_exif_orientation_is_honoured(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    path = saved(gradient((96, 64)), tmp_path / "phone.jpg", exif=exif)
    assert load_image(path).size == (64, 96)


def test_animated_gif_uses_the_first_frame(tmp_path):
    red, blue = Image.new("RGB", (64, 64), (255, 0, 0)), Image.new("RGB", (64, 64), (0, 0, 255))
    path = saved(red, tmp_path / "anim.gif", save_all=True, append_images=[blue], duration=100, loop=0)
    assert np.asarray(load_image(path))[10, 10].tolist()[0] > 200


def test_icc_profiles_are_applied_and_broken_ones_tolerated(tmp_path):
    image = gradient()
    plain = np.asarray(load_image(saved(image, tmp_path / "plain.png")), dtype=int)
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    tagged = np.asarray(load_image(saved(image, tmp_path / "srgb.png", icc_profile=srgb)), dtype=int)
    assert np.abs(tagged - plain).mean() < 2  # converted from sRGB to sRGB: (almost) unchanged
    broken = np.asarray(load_image(saved(image, tmp_path / "broken.png", icc_profile=b"not a profile")), dtype=int)
    assert np.array_equal(broken, plain)


def test_huge_images_are_downscaled_on_load(tmp_path):
    path = saved(gradient((4000, 3000)), tmp_path / "big.jpg", quality=80)
    loaded = load_image(path, max_side=512)
    assert loaded.size == (512, 384)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj", "not an image"),
        (b"", "not an image"),
        (b"GIF89a" + b"\x00" * 3, "not an image"),
    ],
)
def test_non_images_are_refused_clearly(tmp_path, payload, message):
    path = tmp_path / "photo.jpg"
    path.write_bytes(payload)
    with pytest.raises(ImageError, match=message):
        load_image(path)


def test_truncated_file_is_refused_clearly(tmp_path):
    data = io.BytesIO()
    gradient((400, 300)).save(data, format="PNG")
    with pytest.raises(ImageError, match="truncated or corrupt"):
        load_image(data.getvalue()[: len(data.getvalue()) // 2])


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    side = int(MAX_INPUT_PIXELS**0.5) + 100
    data = io.BytesIO()
    Image.new("1", (side, side)).save(data, format="PNG")  # a tiny file that decodes to >100 megapixels
    assert len(data.getvalue()) < 2_000_000
    with pytest.raises(ImageError, match="megapixels"):
        load_image(data.getvalue())


def test_tiny_images_are_refused():
    with pytest.raises(ImageError, match="at least 16"):
        load_image(Image.new("RGB", (8, 200)))


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ImageError, match="does not exist"):
        load_image(tmp_path / "nowhere.png", name="style image")


def test_ycbcr_round_trip_and_histogram_matching():
    picture = to_tensor(gradient())
    assert torch_close(ycbcr_to_rgb(rgb_to_ycbcr(picture)), picture)
    reference = to_tensor(Image.new("RGB", (96, 64), (200, 40, 40)).convert("RGB")) * 0.5 + picture * 0.5
    matched = match_color_histogram(picture, reference)
    assert abs(matched.mean((2, 3)) - reference.mean((2, 3))).max() < 0.02


def torch_close(a, b, tolerance=1e-5) -> bool:
    return float((a - b).abs().max()) < tolerance


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_the_bad_input_corpus_through_the_engine(stylizer, style_image, tmp_path, case: Case):
    path = case.write(tmp_path)
    settings = dict(size=SIZE, scales=1, iterations=2, preview_every=0)
    if case.refusal:
        with pytest.raises(ValueError, match=case.refusal):
            list(stylizer.stylize(path, style_image, **settings))
    else:
        *_, final = stylizer.stylize(path, style_image, **settings)
        assert final.final and final.image.size == case.output
    if case.refused_as_style:
        with pytest.raises(ImageError) as refused:
            list(stylizer.stylize(style_image, path, **settings))
        assert "style image" in str(refused.value) and case.refusal in str(refused.value)
