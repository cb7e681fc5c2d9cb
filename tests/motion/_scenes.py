"""Synthetic grey pictures for the analysis tests: a textured view, noise, a square."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Gray = npt.NDArray[np.uint8]

WIDTH, HEIGHT = 640, 360


def textured_view(seed: int = 0) -> npt.NDArray[np.float64]:
    """A static view with gradients and edges (mid-grey, far from 0 and 255)."""
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH]
    view = 70 + 40 * np.sin(xs / 37.0) * np.cos(ys / 23.0) + 0.05 * xs
    rng = np.random.default_rng(seed)
    for _ in range(12):  # furniture: flat boxes with hard edges
        x, y = int(rng.integers(0, WIDTH - 80)), int(rng.integers(0, HEIGHT - 60))
        view[y : y + int(rng.integers(20, 60)), x : x + int(rng.integers(20, 80))] = rng.integers(
            40, 180
        )
    return view


def picture(
    view: npt.NDArray[np.float64],
    *,
    noise: float = 0.0,
    seed: int = 0,
    gain: float = 1.0,
    offset: float = 0.0,
    blocks: float = 0.0,
) -> Gray:
    """``view`` seen through a sensor: gain and offset, Gaussian noise, 8x8 block artefacts."""
    rng = np.random.default_rng(seed)
    out = view * gain + offset
    if noise:
        out = out + rng.normal(0.0, noise, view.shape)
    if blocks:
        # Compression: every 8x8 block off by its own small DC error, as a codec's quantiser does.
        dc = rng.uniform(-blocks, blocks, (HEIGHT // 8, WIDTH // 8))
        out = out + np.kron(dc, np.ones((8, 8)))
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def with_square(
    view: npt.NDArray[np.float64],
    x: float,
    y: float,
    *,
    side: float = 0.15,
    value: float | None = 230.0,
    delta: float = 0.0,
) -> npt.NDArray[np.float64]:
    """``view`` with a square centred at normalised ``(x, y)``, ``side`` a fraction of the height.

    The square is ``value`` (a bright object), or when ``value`` is None the
    view itself changed by ``delta`` (a faint one).
    """
    out = view.copy()
    half = max(1, int(side * HEIGHT / 2))
    cx, cy = int(x * WIDTH), int(y * HEIGHT)
    box = out[max(0, cy - half) : cy + half, max(0, cx - half) : cx + half]
    if value is None:
        box += delta
    else:
        box[...] = value
    return out
