"""Similarity of image maps: structural similarity (SSIM) and histograms of oriented gradients
(HOG), batched on the device; same conventions as :mod:`.correlations`."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from veracity._core.validate import check_positive_int, fail
from veracity.metrics._engine.stats import correlation

__all__ = ["ssim", "hog", "hog_similarity"]


def _gaussian_window(sigma: float, truncate: float, size_limit: int, dtype: torch.dtype,
                     device: torch.device) -> Tensor:
    radius = min(int(truncate * sigma + 0.5), (size_limit - 1) // 2)
    offsets = torch.arange(-radius, radius + 1, dtype=dtype, device=device)
    window = torch.exp(-0.5 * (offsets / sigma) ** 2)
    return window / window.sum()


def _as_images(x: Tensor) -> Tensor:
    """``(batch, H, W)`` or ``(batch, C, H, W)`` -> ``(batch * C, 1, H, W)``."""
    if x.dim() == 3:
        return x.unsqueeze(1).reshape(-1, 1, *x.shape[-2:])
    if x.dim() == 4:
        return x.reshape(-1, 1, *x.shape[-2:])
    fail("a", "image maps shaped (batch, H, W) or (batch, C, H, W)", x)


def ssim(a: Tensor, b: Tensor, data_range: float | Tensor | None = None, sigma: float = 1.5,
         truncate: float = 3.5, k1: float = 0.01, k2: float = 0.03) -> Tensor:
    """Structural similarity (Wang et al. 2004) of image maps, per example, averaged over channels.

    Gaussian-weighted as ``skimage.metrics.structural_similarity(gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False)``: an 11x11 window (radius ``int(3.5 * 1.5 + 0.5)``),
    ``K1 = 0.01``, ``K2 = 0.03``, mean of the SSIM map over the centres whose window lies
    inside the image. Differences from skimage: on images smaller than the window the window
    is cut to the largest odd size that fits (skimage raises), and ``data_range=None`` means
    the per-example range ``max - min`` over both maps (skimage demands it for floats).

    Example:
        >>> import torch
        >>> x = torch.rand(2, 1, 16, 16)
        >>> ssim(x, x)
        tensor([1., 1.])
    """
    if a.shape != b.shape:
        fail("b", f"a tensor of the same shape as `a` {tuple(a.shape)}", b)
    dtype = torch.promote_types(a.dtype, torch.float32)
    x, y = _as_images(a.to(dtype)), _as_images(b.to(dtype))
    batch = a.shape[0]
    channels = x.shape[0] // batch
    if data_range is None:
        both = torch.cat([a.reshape(batch, -1), b.reshape(batch, -1)], 1).to(dtype)
        data_range = (both.amax(1) - both.amin(1)).clamp_min(torch.finfo(dtype).eps)
    span = torch.as_tensor(data_range, dtype=dtype, device=a.device).expand(batch)
    span = span.repeat_interleave(channels)[:, None, None, None]
    window = _gaussian_window(sigma, truncate, min(x.shape[-2:]), dtype, a.device)

    def blur(z: Tensor) -> Tensor:
        z = F.conv2d(z, window.view(1, 1, -1, 1))
        return F.conv2d(z, window.view(1, 1, 1, -1))

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x ** 2
    var_y = blur(y * y) - mu_y ** 2
    cov = blur(x * y) - mu_x * mu_y
    c1, c2 = (k1 * span) ** 2, (k2 * span) ** 2
    index = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x ** 2 + mu_y ** 2 + c1) * (var_x + var_y + c2))
    return index.reshape(batch, channels, -1).mean(2).mean(1)


def _image_gradients(x: Tensor) -> tuple[Tensor, Tensor]:
    """Central differences ``[-1, 0, 1]``; zero on the border rows/columns (as skimage)."""
    gy = torch.zeros_like(x)
    gx = torch.zeros_like(x)
    gy[..., 1:-1, :] = x[..., 2:, :] - x[..., :-2, :]
    gx[..., :, 1:-1] = x[..., :, 2:] - x[..., :, :-2]
    return gx, gy


def hog(maps: Tensor, orientations: int = 9, pixels_per_cell: tuple[int, int] = (8, 8),
        cells_per_block: tuple[int, int] = (3, 3)) -> Tensor:
    """Histogram of oriented gradients (Dalal & Triggs 2005), one descriptor per example.

    Follows ``skimage.feature.hog`` with its defaults: unsigned orientations in [0, 180) with
    hard binning, cell histograms of gradient magnitude averaged over the cell, overlapping
    blocks normalised by L2-Hys (clip at 0.2). For several channels each pixel takes the
    gradient of the channel with the largest magnitude. Returns ``(batch, n_features)``.

    Example:
        >>> import torch
        >>> hog(torch.rand(2, 1, 32, 32)).shape
        torch.Size([2, 324])
    """
    check_positive_int("orientations", orientations)
    x = maps if maps.dim() == 4 else maps.unsqueeze(1)
    if x.dim() != 4:
        fail("maps", "image maps shaped (batch, H, W) or (batch, C, H, W)", maps)
    x = x.to(torch.promote_types(x.dtype, torch.float32))
    (ch, cw), (bh, bw) = pixels_per_cell, cells_per_block
    n_cy, n_cx = x.shape[-2] // ch, x.shape[-1] // cw
    if n_cy < bh or n_cx < bw:
        fail("pixels_per_cell", f"cells small enough for a {bh}x{bw} block in a "
             f"{x.shape[-2]}x{x.shape[-1]} image", str(pixels_per_cell))
    gx, gy = _image_gradients(x)
    magnitude = torch.hypot(gx, gy)
    strongest = magnitude.argmax(1, keepdim=True)
    magnitude = magnitude.gather(1, strongest)[:, 0]
    angle = torch.rad2deg(torch.atan2(gy.gather(1, strongest)[:, 0], gx.gather(1, strongest)[:, 0])) % 180
    bins = (angle / (180 / orientations)).long().clamp_max(orientations - 1)
    magnitude = magnitude[:, : n_cy * ch, : n_cx * cw]
    bins = bins[:, : n_cy * ch, : n_cx * cw]
    votes = F.one_hot(bins, orientations).to(magnitude.dtype) * magnitude[..., None]
    cells = votes.reshape(-1, n_cy, ch, n_cx, cw, orientations).mean((2, 4))
    blocks = cells.unfold(1, bh, 1).unfold(2, bw, 1)  # (batch, by, bx, orient, bh, bw)
    blocks = blocks.permute(0, 1, 2, 4, 5, 3).reshape(*blocks.shape[:3], -1)
    eps = 1e-5
    blocks = blocks / torch.sqrt((blocks ** 2).sum(-1, keepdim=True) + eps ** 2)
    blocks = blocks.clamp_max(0.2)
    blocks = blocks / torch.sqrt((blocks ** 2).sum(-1, keepdim=True) + eps ** 2)
    return blocks.reshape(blocks.shape[0], -1)


def hog_similarity(a: Tensor, b: Tensor, **hog_kwargs: object) -> Tensor:
    """Pearson correlation of the HOG descriptors of two maps (Adebayo et al. 2018), per example.

    Keyword arguments go to :func:`hog` (use smaller ``pixels_per_cell`` on small images).

    Example:
        >>> import torch
        >>> x = torch.rand(2, 1, 32, 32, generator=torch.Generator().manual_seed(0))
        >>> torch.allclose(hog_similarity(x, 3 * x), torch.ones(2))
        True
    """
    if a.shape != b.shape:
        fail("b", f"a tensor of the same shape as `a` {tuple(a.shape)}", b)
    descriptors = hog(torch.cat([a, b]), **hog_kwargs)  # type: ignore[arg-type]
    return correlation(*descriptors.chunk(2))
