"""Real images that ship with scikit-image (no download), as float tensors in [0, 1].

>>> img = load_image("astronaut", size=256)   # 1×3×256×256
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .._checks import check_choice, check_positive_int

# Only images bundled inside the scikit-image wheel (skimage.data loads them from disk).
IMAGES = ("astronaut", "camera", "chelsea", "coffee", "rocket", "immunohistochemistry")


def load_image(name: str = "astronaut", size: int | None = 256, gray: bool = False,
               dtype=torch.float32) -> torch.Tensor:
    """A bundled image as a 1×C×size×size tensor in [0, 1] (C=3, or 1 if ``gray``).

    The image is centre-cropped to a square, then resized with antialiased bilinear
    interpolation; ``size=None`` keeps the cropped resolution.
    """
    import skimage.data

    check_choice(name, "name", IMAGES)
    array = np.asarray(getattr(skimage.data, name)(), dtype=np.float64) / 255.0
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    array = array[..., :3]
    height, width = array.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    image = torch.from_numpy(np.ascontiguousarray(array[top:top + side, left:left + side]))
    image = image.permute(2, 0, 1).unsqueeze(0)
    if gray:
        image = (image * torch.tensor([0.299, 0.587, 0.114], dtype=image.dtype).view(1, 3, 1, 1)).sum(1, keepdim=True)
    if size is not None:
        size = check_positive_int(size, "size")
        image = F.interpolate(image, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return image.clamp(0, 1).to(dtype)
