"""The five-band score of Tjoa & Guan (arXiv 2009.02899): banded attributions against banded,
graded ground-truth heatmaps (such as :func:`veracity.synthetic.make_cells`'s 0 / 0.4 / 0.9).

Per example, the attributions are summed over channels and divided by their largest absolute
value (a map of zeros stays zeros); the map and the ground truth are then cut at
``thresholds`` ``(t1, t2, t3, t4)`` into bands -2 (``<= t1``), -1, 0 (``t2 < v <= t3``), 1,
2 (``> t4``). With ``h`` the map's bands and ``h0`` the ground truth's, pixelwise:

* TP: ``h != 0``, ``h0 != 0`` and ``h == h0``; FN: ``h == 0``, ``h0 != 0``; TN: both 0;
* FP: ``h != 0`` where ``h0 == 0``, plus ``h != 0``, ``h0 != 0`` in another band.

Pixel accuracy is the fraction with ``h == h0``; recall ``TP / (TP + FN)``, precision
``TP / (TP + FP)``, false-positive rate ``FP / (FP + TN)`` (NaN where a denominator is 0; the
reference code adds 1e-6 instead). The *soft* score repeats this for ``soft_steps`` steps,
moving the map's thresholds toward 0 by ``soft_delta`` each step (the reference's rule
``g <- g + (-1)^[g > 0] * delta``).
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import torch
from torch import Tensor

from veracity._core.validate import check_positive_int, fail

__all__ = ["FiveBandResult", "five_band_score"]

THRESHOLDS = (-0.7, -0.3, 0.3, 0.7)


class FiveBandResult(NamedTuple):
    """Pixel accuracy, recall, precision and false-positive rate, each ``(batch, soft_steps)``,
    and the map's ``thresholds`` ``(soft_steps, 4)`` of each step."""

    pixel_accuracy: Tensor
    recall: Tensor
    precision: Tensor
    fpr: Tensor
    thresholds: Tensor


def _thresholds(name: str, value: Sequence[float]) -> Tensor:
    ok = isinstance(value, (tuple, list)) and len(value) == 4 and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    if not ok or list(value) != sorted(value):
        fail(name, "four increasing numbers (t1, t2, t3, t4)", value)
    return torch.tensor([float(v) for v in value], dtype=torch.double)


def _bands(values: Tensor, thresholds: Tensor) -> Tensor:
    return torch.bucketize(values, thresholds.to(values.device), right=False) - 2


def _graded(attributions: Tensor, masks: Tensor) -> tuple[Tensor, Tensor]:
    if not isinstance(attributions, Tensor) or attributions.dim() < 2:
        fail("attributions", "a tensor shaped (batch, ...)", attributions, TypeError)
    if not isinstance(masks, Tensor) or not masks.is_floating_point():
        fail("masks", "a floating-point tensor of graded ground-truth heatmaps", masks, TypeError)
    if not bool(torch.isfinite(attributions).all()):
        fail("attributions", "finite values only", "a tensor containing NaN or inf")
    a, m = attributions.detach().double(), masks.detach().double().to(attributions.device)
    if m.shape == a.shape:
        pass
    elif m.dim() == a.dim() - 1 and m.shape[0] == a.shape[0] and m.shape[1:] == a.shape[2:]:
        a = a.sum(1)
    elif m.dim() == a.dim() > 2 and m.shape[1] == 1 and m.shape[0] == a.shape[0] and m.shape[2:] == a.shape[2:]:
        a, m = a.sum(1), m[:, 0]
    else:
        fail("masks", f"heatmaps of the attributions' shape {tuple(attributions.shape)} or of its "
             "spatial shape", masks)
    flat = a.reshape(a.shape[0], -1)
    peak = flat.abs().max(1, keepdim=True).values
    flat = flat / torch.where(peak > 0, peak, torch.ones_like(peak))
    return flat, m.reshape(m.shape[0], -1)


def _ratio(numerator: Tensor, denominator: Tensor) -> Tensor:
    return torch.where(denominator > 0, numerator / denominator.clamp(min=1), torch.full_like(numerator, float("nan")))


def five_band_score(attributions: Tensor, masks: Tensor, *, thresholds: Sequence[float] = THRESHOLDS,
                    mask_thresholds: Sequence[float] = THRESHOLDS, soft_steps: int = 1,
                    soft_delta: float = 0.02) -> FiveBandResult:
    """Tjoa & Guan's (soft) five-band score of ``attributions`` against graded ``masks``.

    ``masks`` are ground-truth heatmaps with values in [-1, 1] (e.g. 0 / 0.4 / 0.9), shaped
    like the attributions or like their spatial part (``(B, C, H, W)`` attributions are then
    summed over channels); they are banded with ``mask_thresholds``, never normalised. The
    paper's soft score uses ``soft_steps=11``, ``soft_delta=0.02``. See the module docstring
    for the counts; all four measures are per example and per step (higher is better for
    accuracy, recall and precision, lower for the false-positive rate).

    Example:
        >>> import torch
        >>> from veracity.metrics import five_band_score
        >>> truth = torch.tensor([[0.0, 0.4, 0.9, 0.9]])
        >>> score = five_band_score(torch.tensor([[0.0, 0.5, 1.0, 0.2]]), truth)
        >>> score.recall, score.precision, score.fpr  # the last pixel is missed (band 0, truth 2)
        (tensor([[0.6667]]), tensor([[1.]]), tensor([[0.]]))
        >>> five_band_score(torch.tensor([[0.0, 0.5, 1.0, 0.2]]), truth, soft_steps=6,
        ...                 soft_delta=0.02).recall[0, -1]  # the threshold 0.3 has moved to 0.2
        tensor(1.)
    """
    check_positive_int("soft_steps", soft_steps)
    if isinstance(soft_delta, bool) or not isinstance(soft_delta, (int, float)) or soft_delta < 0:
        fail("soft_delta", "a non-negative number", soft_delta)
    g = _thresholds("thresholds", thresholds)
    flat, truth = _graded(attributions, masks)
    truth_bands = _bands(truth, _thresholds("mask_thresholds", mask_thresholds))
    steps: list[Tensor] = []
    results: list[tuple[Tensor, ...]] = []
    for step in range(soft_steps):
        if step > 0:
            g = g + torch.where(g > 0, -1.0, 1.0).to(g.dtype) * soft_delta
        steps.append(g.clone())
        h = _bands(flat, g)
        same = h == truth_bands
        marked, real = h != 0, truth_bands != 0
        tp = (marked & real & same).sum(1).double()
        fp = (marked & ~real).sum(1).double() + (marked & real & ~same).sum(1).double()
        tn = (~marked & ~real).sum(1).double()
        fn = (~marked & real).sum(1).double()
        results.append((same.double().mean(1), _ratio(tp, tp + fn), _ratio(tp, tp + fp), _ratio(fp, fp + tn)))
    accuracy, recall, precision, fpr = (torch.stack(r, 1).float() for r in zip(*results))
    return FiveBandResult(accuracy, recall, precision, fpr, torch.stack(steps).float())
