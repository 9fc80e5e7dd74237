"""Deterministic fixture images (RGB uint8) drawn with numpy."""
from __future__ import annotations

import numpy as np

GREY = (128, 128, 128)
RED = (220, 40, 40)
GREEN = (40, 180, 60)
BLUE = (40, 60, 210)


def draw_scene(size: int = 64, circle_colour=RED, square_colour=BLUE) -> np.ndarray:
    """Grey background, a circle on the left, a small square on the right."""
    img = np.empty((size, size, 3), np.uint8)
    img[:] = GREY
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) + 0.5
    s = size / 64.0
    cx, cy, r = 22 * s, 30 * s, 12 * s
    img[(xx - cx) ** 2 + (yy - cy) ** 2 <= r * r] = circle_colour
    x0, y0, w = int(42 * s), int(36 * s), int(10 * s)
    img[y0:y0 + w, x0:x0 + w] = square_colour
    return img


def save_png(path: str, img: np.ndarray) -> None:
    from PIL import Image

    Image.fromarray(img, "RGB").save(path, format="PNG", optimize=False, compress_level=9)


def load_png(path: str) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
