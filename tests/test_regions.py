"""Regions: each style paints its own part of the photo, and a keep-photo region stays the photo.

Real weights (the bundled original VGG19), real photos and paintings, small sizes.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from styletransfer import ImageError, StyleConfig, Stylizer
from styletransfer.losses import gram_matrix, relative_distance

from .conftest import EXAMPLES

pytestmark = pytest.mark.slow

STARRY = EXAMPLES / "paintings" / "starry_night_van_gogh_1889.jpg"
SCREAM = EXAMPLES / "paintings" / "the_scream_munch_1893.jpg"
#: One scale at 128 px (128×85 for the coffee photo), enough iterations for the style to show.
SMALL = StyleConfig(size=128, scales=1, iterations=30, preview_every=0)
WIDTH, HEIGHT = 128, 85
#: Columns each side of the boundary left out of the region checks: the soft edge and the receptive fields there.
MARGIN = 12
TEXTURE_LAYERS = ("relu1_1", "relu2_1", "relu3_1")


def half_mask(width: int = WIDTH, height: int = HEIGHT, *, left: bool = True) -> np.ndarray:
    mask = np.zeros((height, width), np.uint8)
    mask[:, : width // 2] = 255
    return mask if left else 255 - mask


def left(picture: Image.Image) -> np.ndarray:
    return np.asarray(picture, np.float32)[:, : WIDTH // 2 - MARGIN]


def right(picture: Image.Image) -> np.ndarray:
    return np.asarray(picture, np.float32)[:, WIDTH // 2 + MARGIN :]


def texture_distance(stylizer, part: np.ndarray, painting) -> float:
    """The texture style distance (relu1_1…relu3_1 Grams) of a part of a picture from a painting."""
    net = Stylizer(stylizer.weights, device="cpu", precision="fp32").network(TEXTURE_LAYERS, "max")
    with Image.open(painting) as opened:
        style = opened.convert("RGB").resize((128, 102), Image.Resampling.LANCZOS)

    def tensor(array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(array) / 255.0).float().permute(2, 0, 1)[None]

    with torch.no_grad():
        ours, theirs = net(tensor(part)), net(tensor(np.asarray(style, np.float32)))
        distances = [relative_distance(gram_matrix(ours[n]), gram_matrix(theirs[n])).item() for n in TEXTURE_LAYERS]
    return float(np.mean(distances))


@pytest.fixture(scope="module")
def photo(content_image) -> Image.Image:
    return content_image.resize((WIDTH, HEIGHT), Image.Resampling.LANCZOS)


@pytest.fixture(scope="module")
def unmasked(stylizer, content_image) -> Image.Image:
    return stylizer.stylize_image(content_image, STARRY, SMALL)


def test_a_half_mask_paints_its_half_as_without_a_mask_and_leaves_the_other(stylizer, content_image, photo, unmasked):
    masked = stylizer.stylize_image(content_image, STARRY, SMALL, masks=[half_mask()])
    before = texture_distance(stylizer, left(photo), STARRY)
    styled = texture_distance(stylizer, left(masked), STARRY)
    without_mask = texture_distance(stylizer, left(unmasked), STARRY)
    assert styled < before / 3  # the masked half took the style …
    assert styled < without_mask * 1.5  # … about as well as the whole picture does without a mask
    untouched = np.abs(right(masked) - right(photo)).mean()
    assert untouched < 6.0, untouched  # out of 255: the other half stayed the photo
    assert np.abs(right(unmasked) - right(photo)).mean() > 4 * untouched  # where a mask-less run paints


def test_two_styles_each_paint_their_own_region(stylizer, content_image):
    picture = stylizer.stylize_image(content_image, [STARRY, SCREAM], SMALL, masks=[half_mask(), half_mask(left=False)])
    assert texture_distance(stylizer, left(picture), STARRY) < texture_distance(stylizer, left(picture), SCREAM)
    assert texture_distance(stylizer, right(picture), SCREAM) < texture_distance(stylizer, right(picture), STARRY)


def test_a_keep_photo_region_stays_the_photo(stylizer, content_image, photo, unmasked):
    picture = stylizer.stylize_image(content_image, STARRY, SMALL, keep_mask=half_mask())
    assert np.abs(left(picture) - left(photo)).mean() < 1.0  # the photo itself (but for rounding)
    assert np.abs(right(picture) - right(photo)).mean() > 10.0  # and the rest painted
    assert np.abs(right(picture) - right(unmasked)).mean() < np.abs(right(photo) - right(unmasked)).mean()


def seam_ratio(picture: Image.Image) -> float:
    """How much sharper the picture changes across the boundary's columns than inside the regions."""
    grey = np.asarray(picture.convert("L"), np.float32)
    steps = np.abs(np.diff(grey, axis=1)).mean(axis=0)  # mean horizontal step between each pair of columns
    middle = WIDTH // 2
    across = steps[middle - 3 : middle + 2].max()
    inside = np.median(np.concatenate([steps[: middle - MARGIN], steps[middle + MARGIN :]]))
    return float(across / inside)


def test_masks_of_any_size_grey_and_soft_show_no_seam(stylizer, content_image):
    small_mask = Image.fromarray(half_mask(37, 23))  # another size and aspect ratio: resized to the photo
    grey = Image.fromarray((half_mask() // 255 * 128 + 64).astype(np.uint8))  # 192 | 64: both styles in part
    for masks, feather in [([small_mask, 255 - np.asarray(small_mask)], 0.03), ([grey, 255 - np.asarray(grey)], 0.0)]:
        picture = stylizer.stylize_image(
            content_image, [STARRY, SCREAM], SMALL.updated(mask_feather=feather), masks=masks
        )
        assert picture.size == (WIDTH, HEIGHT)
        assert seam_ratio(picture) < 2.5, seam_ratio(picture)


def test_a_hard_edge_without_feathering_shows_more_of_a_seam(stylizer, content_image):
    """The seam measure can tell: two very different styles meeting at a hard edge step harder there."""
    masks = [half_mask(), half_mask(left=False)]
    hard = stylizer.stylize_image(content_image, [STARRY, SCREAM], SMALL.updated(mask_feather=0.0), masks=masks)
    soft = stylizer.stylize_image(content_image, [STARRY, SCREAM], SMALL.updated(mask_feather=0.05), masks=masks)
    assert seam_ratio(soft) < seam_ratio(hard)


def test_an_all_black_style_mask_means_that_style_is_not_used(stylizer, content_image, unmasked):
    black = np.zeros((HEIGHT, WIDTH), np.uint8)
    picture = np.asarray(stylizer.stylize_image(content_image, [STARRY, SCREAM], SMALL, masks=[None, black]), float)
    blended = np.asarray(stylizer.stylize_image(content_image, [STARRY, SCREAM], SMALL), float)
    alone = np.asarray(unmasked, float)
    # the Scream is not used: the picture is the Starry Night alone (but for L-BFGS's rounding), not the blend
    assert np.abs(picture - alone).mean() < np.abs(blended - alone).mean() / 2


@pytest.mark.parametrize(
    ("masks", "keep", "style_masks", "error", "message"),
    [
        (["not-a-file.png"], None, None, ImageError, "mask file .* does not exist"),
        ([EXAMPLES / "README.md"], None, None, ImageError, "The mask is not an image"),
        ([half_mask(), half_mask()], None, None, ValueError, "2 masks but 1 style image"),
        ([np.zeros((8, 8), np.uint8)], None, None, ValueError, "masks leave nothing to paint"),
        (None, np.full((8, 8), 255, np.uint8), None, ValueError, "covered by the keep-photo mask"),
        (None, None, [np.zeros((8, 8), np.uint8)], ValueError, "style mask is all black"),
    ],
)
def test_bad_masks_get_clear_errors(stylizer, content_image, masks, keep, style_masks, error, message):
    with pytest.raises(error, match=message):
        stylizer.stylize(content_image, STARRY, SMALL, masks=masks, keep_mask=keep, style_masks=style_masks)


def test_a_style_mask_chooses_the_part_of_the_painting_that_feeds_the_region(stylizer, content_image):
    """The wheat field's sky is blue swirls and its ground yellow: a style mask on the sky gives a bluer picture."""
    wheat = EXAMPLES / "paintings" / "wheat_field_with_cypresses_van_gogh_1889.jpg"
    sky, ground = (EXAMPLES / "paintings" / f"wheat_field_with_cypresses_{part}_mask.png" for part in ("sky", "ground"))
    blue = []
    for part in (sky, ground):
        picture = np.asarray(stylizer.stylize_image(content_image, wheat, SMALL, style_masks=[part]), np.float32)
        blue.append(picture[..., 2].mean() - picture[..., 0].mean())
    assert blue[0] > blue[1] + 10
