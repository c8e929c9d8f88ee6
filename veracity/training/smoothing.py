"""The smoothing conversion of Kokhlikyan et al. 2021: ReLU -> Softplus(beta), MaxPool ->
log-sum-exp pooling(r), on a copy of any model."""

from __future__ import annotations

import copy
import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from veracity._core.validate import fail


class LogSumExpPool2d(nn.Module):
    """Smooth max pooling: ``(1/r) log((1/|R|) sum_{i in R} exp(r x_i))`` over each window ``R``.

    Tends to the max as ``r`` grows (the ``log |R| / r`` term vanishes). Windows, strides,
    padding and dilation follow :class:`torch.nn.MaxPool2d` (padded positions are left out
    of the window, as max pooling ignores them); ``ceil_mode`` is not supported.

    Example:
        >>> import torch
        >>> x = torch.tensor([[[[0.0, 1.0], [2.0, 3.0]]]])
        >>> round(float(LogSumExpPool2d(2, r=100.0)(x)), 3)
        2.986
        >>> round(float(LogSumExpPool2d(2, r=1e-4)(x)), 2)  # r -> 0: the mean
        1.5
    """

    def __init__(self, kernel_size: int | tuple[int, int], stride: int | tuple[int, int] | None = None,
                 padding: int | tuple[int, int] = 0, dilation: int | tuple[int, int] = 1, r: float = 10.0) -> None:
        super().__init__()
        if not isinstance(r, (int, float)) or not r > 0:
            fail("r", "a positive number", r)
        self.kernel_size = nn.modules.utils._pair(kernel_size)
        self.stride = nn.modules.utils._pair(stride if stride is not None else kernel_size)
        self.padding = nn.modules.utils._pair(padding)
        self.dilation = nn.modules.utils._pair(dilation)
        self.r = float(r)

    def forward(self, x: Tensor) -> Tensor:
        squeeze = x.dim() == 3
        if squeeze:
            x = x.unsqueeze(0)
        if x.dim() != 4:
            fail("input", "a (N, C, H, W) or (C, H, W) tensor", f"shape {tuple(x.shape)}")
        n, c, h, w = x.shape
        ph, pw = self.padding
        flat = x.reshape(n * c, 1, h, w)
        if ph or pw:
            flat = F.pad(flat, (pw, pw, ph, ph), value=float("-inf"))
        windows = F.unfold(flat, self.kernel_size, dilation=self.dilation, stride=self.stride)  # (nc, k, L)
        scaled = self.r * windows
        counts = torch.isfinite(windows).sum(1).clamp(min=1).to(x.dtype)
        pooled = (torch.logsumexp(scaled, dim=1) - counts.log()) / self.r
        kh, kw = self.kernel_size
        dh, dw = self.dilation
        sh, sw = self.stride
        out_h = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
        out_w = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
        result = pooled.reshape(n, c, out_h, out_w)
        return result[0] if squeeze else result

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, r={self.r}"


def _smooth_pool(module: nn.MaxPool2d, r: float) -> LogSumExpPool2d:
    if module.ceil_mode:
        fail("model", "MaxPool2d layers with ceil_mode=False", f"{module!r}")
    if module.return_indices:
        fail("model", "MaxPool2d layers without return_indices", f"{module!r}")
    return LogSumExpPool2d(module.kernel_size, module.stride, module.padding, module.dilation, r)


def smooth_model(model: nn.Module, beta: float = 10.0, r: float = 10.0) -> nn.Module:
    """A deep copy of ``model`` with every ``nn.ReLU`` replaced by ``nn.Softplus(beta)`` and
    every ``nn.MaxPool2d`` by :class:`LogSumExpPool2d` with the same window and ``r``.

    The smooth network of Kokhlikyan et al. 2021 ("Investigating sanity checks for saliency
    maps with image and text classification"): smoother functions give explanations with
    lower infidelity. The original model is not touched; as ``beta`` and ``r`` grow the copy
    tends to the original (Softplus -> ReLU, log-sum-exp -> max). Only module activations
    are replaced: ``torch.relu`` / ``F.max_pool2d`` called inside ``forward`` stay as they
    are. The copy keeps the original's training/eval mode.

    Example:
        >>> import torch
        >>> model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.ReLU(),
        ...                             torch.nn.MaxPool2d(2)).eval()
        >>> smooth = smooth_model(model, beta=10.0, r=10.0)
        >>> [type(m).__name__ for m in smooth], type(model[1]).__name__
        (['Conv2d', 'Softplus', 'LogSumExpPool2d'], 'ReLU')
    """
    for name, value in (("beta", beta), ("r", r)):
        if not isinstance(value, (int, float)) or not value > 0 or not math.isfinite(value):
            fail(name, "a positive finite number", value)
    if not isinstance(model, nn.Module):
        fail("model", "a torch.nn.Module", model, TypeError)
    copied = copy.deepcopy(model)
    _replace(copied, float(beta), float(r))
    return copied


def _replace(module: nn.Module, beta: float, r: float) -> None:
    for name, child in module.named_children():
        if isinstance(child, nn.ReLU):
            new: nn.Module = nn.Softplus(beta=beta)
        elif isinstance(child, nn.MaxPool2d):
            new = _smooth_pool(child, r)
        else:
            _replace(child, beta, r)
            continue
        new.train(child.training)
        setattr(module, name, new)
