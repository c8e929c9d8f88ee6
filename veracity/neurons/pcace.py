"""PCACE (Casacuberta, Suel, Flaxman 2021): rank a conv layer's channels by the maximal
correlation between their activation maps and a class score.

For channel ``j`` the maps ``A_j(x)`` of N examples (``N x hw``) are reduced by PCA to their
first ``n_components`` principal components; the importance is the maximal correlation
``sup corr(theta(y), phi(PCs))`` between the class score ``y`` and the components. The paper
estimates it with ACE (alternating conditional expectations). Here the supremum is taken over a
finite function basis, where it is exact: ``theta`` ranges over ``y`` plus indicators of
``n_bins`` quantile bins of ``y``; ``phi`` over additive functions of the components (each
linear plus its bin indicators) plus the channel's mean activation. The maximal correlation over
two linear function spaces is their first canonical correlation, read off an SVD. This is the
"binned conditional-mean ACE" approximation methods.md allows; because linear functions are in
both spaces, ``rho* >= |Pearson(y, mean activation)|`` holds for every channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from veracity._core.activations import activations_and_outputs
from veracity._core.concept_linear import small_problem_threads
from veracity._core.targets import prepare_target
from veracity._core.validate import check_positive_int, fail
from veracity.neurons.activations import named_layers


def _bins(values: Tensor, n_bins: int) -> Tensor:
    """One-hot quantile-bin indicators of each column, the first bin dropped: ``(N, cols * (n_bins - 1))``."""
    edges = torch.quantile(values, torch.linspace(0, 1, n_bins + 1, dtype=values.dtype)[1:-1], dim=0)  # (b-1, cols)
    index = (values[None] > edges[:, None, :]).sum(0)  # (N, cols) in 0..n_bins-1
    onehot = nn.functional.one_hot(index, n_bins).to(values.dtype)  # (N, cols, n_bins)
    return onehot[:, :, 1:].reshape(values.shape[0], -1)


def _orthonormal(basis: Tensor) -> Tensor:
    centred = basis - basis.mean(0)
    u, s, _ = torch.linalg.svd(centred, full_matrices=False)
    keep = s > s.max().clamp(min=1e-300) * 1e-9 if s.numel() else s > 0
    return u[:, keep]


def maximal_correlation(y: Tensor, features: Tensor, n_bins: int = 8) -> float:
    """The first canonical correlation between the basis of ``y`` (``y`` and its bin
    indicators) and that of ``features`` (each column and its bin indicators): the maximal
    correlation over those function spaces.

    Example:
        >>> x = torch.linspace(-1, 1, 200, dtype=torch.float64)[:, None]
        >>> pearson = torch.corrcoef(torch.stack([x[:, 0] ** 2, x[:, 0]]))[0, 1]
        >>> maximal_correlation(x[:, 0] ** 2, x) > 0.95, abs(float(pearson)) < 0.01
        (True, True)
    """
    with small_problem_threads(features.numel() * n_bins):
        return _maximal_correlation(y.double(), features.double(), n_bins)


def _maximal_correlation(y: Tensor, features: Tensor, n_bins: int) -> float:
    y_basis = _orthonormal(torch.cat([y[:, None], _bins(y[:, None], n_bins)], 1))
    x_basis = _orthonormal(torch.cat([features, _bins(features, n_bins)], 1))
    if y_basis.shape[1] == 0 or x_basis.shape[1] == 0:
        return 0.0
    return float(torch.linalg.svdvals(x_basis.T @ y_basis).max().clamp(max=1.0))


@dataclass(frozen=True)
class PCACEResult:
    """``ranking`` (channels, most associated first), ``rho`` (maximal correlation per channel),
    ``pearson`` (|correlation| of the class score with the channel's mean activation),
    the activations ``(N, C, h, w)`` and the class scores ``(N,)`` they came from."""

    layer: str
    ranking: Tensor
    rho: Tensor
    pearson: Tensor
    activations: Tensor
    scores: Tensor

    def plot(self, top: int = 6) -> Any:
        """The top channels' mean activation map (row 1) and their map on the highest-scoring
        example (row 2); returns the figure."""
        try:
            import matplotlib.pyplot as plt
        except ImportError as error:  # pragma: no cover - depends on the environment
            raise ImportError("plotting needs matplotlib: pip install 'veracity[plot]'") from error
        channels = self.ranking[:top].tolist()
        best = int(self.scores.argmax())
        fig, axes = plt.subplots(2, len(channels), figsize=(1.8 * len(channels), 3.8), squeeze=False)
        for k, channel in enumerate(channels):
            for row, image in enumerate((self.activations[:, channel].mean(0), self.activations[best, channel])):
                axes[row][k].imshow(image.detach().cpu().numpy(), cmap="viridis")
                axes[row][k].set_xticks([])
                axes[row][k].set_yticks([])
            axes[0][k].set_title(f"ch {channel}: rho*={float(self.rho[channel]):.2f}", fontsize=7)
        axes[0][0].set_ylabel("mean map", fontsize=7)
        axes[1][0].set_ylabel("top example", fontsize=7)
        fig.suptitle(f"PCACE: top channels of {self.layer}", fontsize=8)
        fig.tight_layout()
        return fig


def pcace_ranking(model: nn.Module, inputs: Tensor, layer: Any, target: Any, additional_forward_args: Any = None,
                  *, n_components: int = 3, n_bins: int = 8, probability: bool = False,
                  chunk_rows: int | None = None) -> PCACEResult:
    """Rank the channels of ``layer`` (a conv layer's output ``(N, C, h, w)``) by PCACE for the
    class score ``target`` (the logit, or the softmax probability with ``probability=True``).
    One forward pass per chunk gives both the maps and the scores.

    Example:
        >>> from veracity.data.toy import toy_cnn
        >>> model, _ = toy_cnn()
        >>> x = torch.randn(60, 1, 8, 8, generator=torch.Generator().manual_seed(0))
        >>> result = pcace_ranking(model, x, "1", target=0)
        >>> bool((result.rho >= result.pearson - 1e-9).all()), sorted(result.ranking.tolist())
        (True, [0, 1, 2, 3])
    """
    check_positive_int("n_components", n_components)
    check_positive_int("n_bins", n_bins, 2)
    ((name, module),) = named_layers(model, [layer]).items()
    (acts,), outputs = activations_and_outputs(model, inputs, [module], additional_forward_args,
                                               chunk_rows=chunk_rows)
    if not isinstance(acts, Tensor) or acts.dim() < 3:
        fail("layer", "a layer with (batch, channels, *spatial) outputs", f"{name!r}", TypeError)
    if acts.shape[0] < 3:
        fail("inputs", "at least 3 examples", inputs)
    scores = torch.softmax(outputs, 1) if probability else outputs
    y = prepare_target(target, scores.shape[0]).scalars(scores).detach().double()
    maps = acts.detach().double().reshape(acts.shape[0], acts.shape[1], -1)
    rho: list[float] = []
    pearson: list[float] = []
    with small_problem_threads(maps[:, 0].numel() * n_components * n_bins):
        for channel in range(maps.shape[1]):
            _channel_scores(maps, channel, y, n_components, n_bins, rho, pearson)
    rho_t, pearson_t = torch.tensor(rho), torch.tensor(pearson)
    return PCACEResult(name, rho_t.argsort(descending=True, stable=True), rho_t, pearson_t, acts.detach(),
                       y.float())


def _channel_scores(maps: Tensor, channel: int, y: Tensor, n_components: int, n_bins: int, rho: list[float],
                    pearson: list[float]) -> None:
    """Append channel ``channel``'s maximal correlation and |Pearson| with its mean activation."""
    values = maps[:, channel] - maps[:, channel].mean(0)
    u, s, _ = torch.linalg.svd(values, full_matrices=False)
    components = u[:, :n_components] * s[:n_components]
    mean = maps[:, channel].mean(1)
    rho.append(_maximal_correlation(y, torch.cat([components, mean[:, None]], 1), n_bins))
    pearson.append(float(torch.corrcoef(torch.stack([y, mean]))[0, 1].abs()) if float(mean.std()) > 0 else 0.0)
