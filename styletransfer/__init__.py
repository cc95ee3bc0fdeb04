"""Neural style transfer after Gatys et al., as a streaming library.

>>> from styletransfer import stylize_image
>>> stylize_image("photo.jpg", "painting.jpg", size=384).save("out.png")
"""

from .config import StyleConfig
from .engine import OutOfMemoryError, Progress, Stylizer, stylize, stylize_image
from .images import ImageError, load_image
from .weights import BackboneWeights, WeightsError, load_weights

__all__ = [
    "BackboneWeights",
    "ImageError",
    "OutOfMemoryError",
    "Progress",
    "StyleConfig",
    "Stylizer",
    "WeightsError",
    "load_image",
    "load_weights",
    "stylize",
    "stylize_image",
]
