"""The RBM ensemble of Borisov et al. 2021 with a torch Bernoulli RBM (no scikit-learn at run time).

Per example, each feature (pixel) is one training sample whose visible vector holds the ``m``
normalised attributions of that feature; a Bernoulli RBM with one hidden unit is fitted with
persistent contrastive divergence (as ``sklearn.neural_network.BernoulliRBM``), and the
ensemble map is the hidden unit's activation probability per feature. The RBMs of all
examples are fitted together (independent weights, one batched update per minibatch).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from veracity._core.validate import check_positive_int, fail
from veracity.ensemble.combine import Maps, mean_ensemble, normalise_maps


class BernoulliRBM:
    """Independent Bernoulli RBMs, one per problem, fitted together by persistent CD-1.

    The update follows scikit-learn's ``BernoulliRBM``: weights drawn from N(0, 0.01^2),
    zero biases, minibatches of ``batch_size`` samples in fixed order, learning rate divided
    by the batch size, a persistent chain of hidden samples. ``fit(v)`` takes visible data
    ``(P, S, m)`` (P problems, S samples, m visible units in [0, 1]); ``transform(v)`` gives
    the hidden activation probabilities ``(P, S, n_components)``.

    Example:
        >>> import torch
        >>> v = torch.rand(2, 30, 3)
        >>> rbm = BernoulliRBM(n_iter=5, generator=torch.Generator().manual_seed(0)).fit(v)
        >>> rbm.transform(v).shape
        torch.Size([2, 30, 1])
    """

    def __init__(self, n_components: int = 1, learning_rate: float = 1e-3, batch_size: int = 15,
                 n_iter: int = 300, generator: torch.Generator | None = None) -> None:
        self.n_components = check_positive_int("n_components", n_components)
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.n_iter = check_positive_int("n_iter", n_iter)
        if not isinstance(learning_rate, (int, float)) or not learning_rate > 0:
            fail("learning_rate", "a positive number", learning_rate)
        self.learning_rate = float(learning_rate)
        self.generator = generator
        self.weights: Tensor | None = None  # (P, n_components, m)
        self.hidden_bias: Tensor | None = None  # (P, n_components)
        self.visible_bias: Tensor | None = None  # (P, m)

    def _hidden(self, v: Tensor) -> Tensor:
        assert self.weights is not None and self.hidden_bias is not None
        return torch.sigmoid(torch.bmm(v, self.weights.transpose(1, 2)) + self.hidden_bias.unsqueeze(1))

    def _visible(self, h: Tensor) -> Tensor:
        assert self.weights is not None and self.visible_bias is not None
        return torch.sigmoid(torch.bmm(h, self.weights) + self.visible_bias.unsqueeze(1))

    def _bernoulli(self, p: Tensor) -> Tensor:
        return (torch.rand(p.shape, generator=self.generator, dtype=p.dtype, device=p.device) < p).to(p.dtype)

    def fit(self, visible: Tensor) -> "BernoulliRBM":
        if visible.dim() != 3:
            fail("visible", "a tensor (problems, samples, visible units)", f"shape {tuple(visible.shape)}")
        v = visible.detach().to(torch.float64 if visible.dtype == torch.float64 else torch.float32)
        p, s, m = v.shape
        self.weights = 0.01 * torch.randn((p, self.n_components, m), generator=self.generator,
                                          dtype=v.dtype).to(v.device)
        self.hidden_bias = v.new_zeros(p, self.n_components)
        self.visible_bias = v.new_zeros(p, m)
        chain = v.new_zeros(p, self.batch_size, self.n_components)
        n_batches = -(-s // self.batch_size)
        bounds = [(i * s // n_batches, (i + 1) * s // n_batches) for i in range(n_batches)]
        for _ in range(self.n_iter):
            for start, stop in bounds:
                batch = v[:, start:stop]
                rows = stop - start
                h_pos = self._hidden(batch)
                v_neg = self._bernoulli(self._visible(chain[:, :rows]))
                h_neg = self._hidden(v_neg)
                rate = self.learning_rate / rows
                positive = torch.bmm(h_pos.transpose(1, 2), batch)
                self.weights += rate * (positive - torch.bmm(h_neg.transpose(1, 2), v_neg))
                self.hidden_bias += rate * (h_pos.sum(1) - h_neg.sum(1))
                self.visible_bias += rate * (batch.sum(1) - v_neg.sum(1))
                chain[:, :rows] = self._bernoulli(h_neg)
        return self

    def transform(self, visible: Tensor) -> Tensor:
        if self.weights is None:
            fail("BernoulliRBM", "fit() before transform()", "an unfitted RBM", RuntimeError)
        return self._hidden(visible.detach().to(self.weights.dtype))


class RBMEnsemble(NamedTuple):
    """The ensemble map (after flip detection), the raw RBM map, which examples were flipped,
    and the mean ensemble that decided the flips."""

    attributions: Tensor
    raw: Tensor
    flipped: Tensor
    mean: Tensor


def flip_preference(reference: Tensor, candidate: Tensor, fraction: float = 0.05) -> Tensor:
    """Per example: ``|top_ref & top_c| + |bot_ref & bot_c| - |top_ref & bot_c| - |bot_ref & top_c|``
    over the top and bottom ``fraction`` of features (the reference code's ``solve_flipping``).
    Negative: ``candidate`` is upside down relative to ``reference``.

    Example:
        >>> import torch
        >>> a = torch.arange(20.0).view(1, 20)
        >>> flip_preference(a, a).tolist(), flip_preference(a, -a).tolist()
        ([2], [-2])
    """
    ref, cand = reference.reshape(len(reference), -1), candidate.reshape(len(candidate), -1)
    k = max(1, int(round(fraction * ref.shape[1])))

    def ends(x: Tensor) -> tuple[Tensor, Tensor]:
        top = torch.zeros_like(x, dtype=torch.bool).scatter_(1, x.topk(k, 1).indices, True)
        bottom = torch.zeros_like(x, dtype=torch.bool).scatter_(1, x.topk(k, 1, largest=False).indices, True)
        return top, bottom

    (top_r, bot_r), (top_c, bot_c) = ends(ref), ends(cand)
    return ((top_r & top_c).sum(1) + (bot_r & bot_c).sum(1) - (top_r & bot_c).sum(1) - (bot_r & top_c).sum(1))


def rbm_ensemble(maps: Maps, *, flip_detection: bool = True, learning_rate: float = 1e-3, n_iter: int = 300,
                 batch_size: int = 15, flip_fraction: float = 0.05, generator: torch.Generator | None = None,
                 seed: int | None = None) -> RBMEnsemble:
    """The RBM ensemble of ``m`` attribution maps per example (Borisov et al. 2021).

    ``maps``: a sequence of ``m`` tensors ``(N, ...)`` or a tensor ``(m, N, ...)``. They are
    preprocessed as in the reference code (negatives to 0, min-max to [0, 1] per map), one
    RBM with one hidden unit is fitted per example on its features (defaults: scikit-learn's
    ``BernoulliRBM(n_components=1, learning_rate=1e-3, n_iter=300, batch_size=15)``), and the
    hidden probability per feature is the raw ensemble. A single hidden unit may encode
    "unimportant" instead of "important": with ``flip_detection`` the raw map of an example
    is replaced by ``1 - raw`` when :func:`flip_preference` against the mean ensemble is
    negative. ``generator`` or ``seed`` makes it reproducible.

    Example:
        >>> import torch
        >>> base = torch.rand(3, 1, 4, 4, generator=torch.Generator().manual_seed(0))
        >>> result = rbm_ensemble([base, 2 * base, base ** 2], n_iter=30, seed=0)
        >>> result.attributions.shape, result.flipped.shape
        (torch.Size([3, 1, 4, 4]), torch.Size([3]))
    """
    if generator is None and seed is not None:
        generator = torch.Generator().manual_seed(seed)
    normalised = normalise_maps(maps)
    m, n = normalised.shape[:2]
    visible = normalised.reshape(m, n, -1).permute(1, 2, 0)  # (N, features, m)
    rbm = BernoulliRBM(1, learning_rate, batch_size, n_iter, generator).fit(visible)
    raw = rbm.transform(visible)[..., 0].to(normalised.dtype).reshape(normalised.shape[1:])
    mean = mean_ensemble(normalised, normalise=False)
    flipped = torch.zeros(n, dtype=torch.bool, device=raw.device)
    result = raw
    if flip_detection:
        flipped = flip_preference(mean, raw, flip_fraction) < 0
        result = torch.where(flipped.view(-1, *([1] * (raw.dim() - 1))), 1 - raw, raw)
    return RBMEnsemble(result, raw, flipped, mean)
