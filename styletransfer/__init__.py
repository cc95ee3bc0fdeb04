"""Neural style transfer after Gatys et al., as a streaming library.

>>> from styletransfer import stylize_image
>>> stylize_image("photo.jpg", "painting.jpg", size=384).save("out.png")
"""

from .config import SETTINGS, StyleConfig
from .engine import OutOfMemoryError, Plan, Progress, Stylizer, scale_plan, stylize, stylize_image
from .images import ImageError, load_image, open_image
from .regions import load_mask
from .settings import Setting
from .weights import BackboneWeights, WeightsError, load_weights

__all__ = [
    "SETTINGS",
    "BackboneWeights",
    "ImageError",
    "OutOfMemoryError",
    "Plan",
    "Progress",
    "Setting",
    "StyleConfig",
    "Stylizer",
    "WeightsError",
    "load_image",
    "load_mask",
    "load_weights",
    "open_image",
    "scale_plan",
    "stylize",
    "stylize_image",
]
