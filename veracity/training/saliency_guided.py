"""Saliency-guided training (Ismail, Corrada Bravo, Feizi, NeurIPS 2021) as a loss for any loop.

Per minibatch: the gradient saliency ``S = d f_y(X) / dX`` (model in eval mode), the ``k``
lowest-saliency features of each example masked (random values in the example's range by
default), and the loss ``CE(f(X), y) + lambda * KL(softmax f(X) || softmax f(X_masked))``.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from veracity._core.validate import check_choice, fail
from veracity.attr.gradient.saliency import Saliency

MASKINGS = ("random", "mean", "constant")


class SaliencyGuidedLoss(NamedTuple):
    """The total loss (differentiable) and its two parts (detached), and the masked inputs."""

    loss: Tensor
    cross_entropy: Tensor
    kl: Tensor
    masked: Tensor


def mask_lowest_saliency(inputs: Tensor, saliency: Tensor, fraction: float, masking: str = "random",
                         value: float = 0.0, generator: torch.Generator | None = None) -> Tensor:
    """``inputs`` with the ``fraction`` lowest-``saliency`` elements of each example replaced.

    ``masking="random"``: uniform values in ``[min, max]`` of that example (the paper's
    ``--RandomMasking``); ``"mean"``: the example's mean; ``"constant"``: ``value``. Ties
    are broken by position (``torch.topk``). A new tensor; ``inputs`` is not modified.

    Example:
        >>> import torch
        >>> x = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
        >>> mask_lowest_saliency(x, torch.tensor([[0.1, 0.9, 0.0, 0.5]]), 0.5, "constant").tolist()
        [[0.0, 2.0, 0.0, 4.0]]
    """
    if saliency.shape != inputs.shape:
        fail("saliency", f"the shape of inputs {tuple(inputs.shape)}", f"shape {tuple(saliency.shape)}")
    if not isinstance(fraction, (int, float)) or not 0.0 <= fraction <= 1.0:
        fail("fraction", "a number in [0, 1]", fraction)
    check_choice("masking", masking, MASKINGS)
    flat = inputs.reshape(len(inputs), -1)
    k = int(round(fraction * flat.shape[1]))
    if k == 0:
        return inputs.clone()
    lowest = torch.topk(saliency.reshape(len(inputs), -1), k, dim=1, largest=False).indices
    if masking == "random":
        low, high = flat.min(1, keepdim=True).values, flat.max(1, keepdim=True).values
        draws = torch.rand(flat.shape, generator=generator, dtype=flat.dtype, device=flat.device)
        fill = low + (high - low) * draws
    elif masking == "mean":
        fill = flat.mean(1, keepdim=True).expand_as(flat)
    else:
        fill = torch.full_like(flat, value)
    masked = flat.clone()
    masked.scatter_(1, lowest, fill.gather(1, lowest))
    return masked.reshape(inputs.shape)


def saliency_guided_loss(model: nn.Module, inputs: Tensor, labels: Tensor, fraction: float = 0.5,
                         lam: float = 1.0, *, masking: str = "random", abs: bool = False,
                         generator: torch.Generator | None = None) -> SaliencyGuidedLoss:
    """The saliency-guided training loss of one minibatch; call ``.loss.backward()`` and step.

    ``fraction`` (the paper's ``k``, ``featuresDroped``) of the features with the lowest
    gradient saliency are masked (``masking``, see :func:`mask_lowest_saliency`); the
    saliency is signed unless ``abs=True`` (the reference code's default), computed with the
    model in eval mode and without touching its parameters' gradients. The loss is
    ``CE(f(X), y) + lam * KL(p(X) || p(X_masked))`` with ``p`` the softmax (the reference's
    ``KLDivLoss(log_target=True, reduction="batchmean")``), both terms differentiable.
    The model's train/eval mode is restored.

    Example:
        >>> import torch
        >>> from veracity.data import toy_mlp
        >>> model, x = toy_mlp(batch=4, classes=3)
        >>> parts = saliency_guided_loss(model, x, torch.tensor([0, 1, 2, 0]),
        ...                              generator=torch.Generator().manual_seed(0))
        >>> parts.loss.requires_grad, bool(parts.kl >= 0), parts.masked.shape
        (True, True, torch.Size([4, 4]))
    """
    if not isinstance(lam, (int, float)) or lam < 0:
        fail("lam", "a non-negative number", lam)
    if labels.shape != inputs.shape[:1]:
        fail("labels", f"one class index per example ({len(inputs)})", f"shape {tuple(labels.shape)}")
    was_training = model.training
    model.eval()
    try:
        saliency = Saliency(model).attribute(inputs.detach(), target=labels, abs=abs)
    finally:
        model.train(was_training)
    assert isinstance(saliency, Tensor)
    masked = mask_lowest_saliency(inputs.detach(), saliency, fraction, masking, generator=generator)
    logits = model(inputs)
    masked_logits = model(masked)
    cross_entropy = F.cross_entropy(logits, labels)
    kl = F.kl_div(F.log_softmax(masked_logits, 1), F.log_softmax(logits, 1), log_target=True,
                  reduction="batchmean")
    return SaliencyGuidedLoss(cross_entropy + lam * kl, cross_entropy.detach(), kl.detach(), masked)


def saliency_guided_step(model: nn.Module, optimizer: torch.optim.Optimizer, inputs: Tensor, labels: Tensor,
                         fraction: float = 0.5, lam: float = 1.0, *, masking: str = "random",
                         abs: bool = False, generator: torch.Generator | None = None) -> SaliencyGuidedLoss:
    """One optimiser step on :func:`saliency_guided_loss` (zero_grad, backward, step).

    Example:
        >>> import torch
        >>> from veracity.data import toy_mlp
        >>> model, x = toy_mlp(batch=4, classes=3)
        >>> optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        >>> before = model[0].weight.clone()
        >>> _ = saliency_guided_step(model.train(), optimizer, x, torch.tensor([0, 1, 2, 0]))
        >>> bool((model[0].weight != before).any())
        True
    """
    optimizer.zero_grad()
    parts = saliency_guided_loss(model, inputs, labels, fraction, lam, masking=masking, abs=abs,
                                 generator=generator)
    parts.loss.backward()
    optimizer.step()
    return parts
