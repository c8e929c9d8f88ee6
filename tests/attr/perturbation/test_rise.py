"""RISE: normalisation, localisation, reproducibility, chunk invariance."""

from __future__ import annotations

import torch

from veracity.attr import RISE


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_constant_model_gives_its_value_everywhere() -> None:
    # S = c * sum_i M_i / (N p): the masks average p_keep, so S ~ c
    x = torch.rand(1, 2, 12, 12, dtype=torch.float64)
    saliency = RISE(lambda t: torch.full((t.shape[0],), 3.0, dtype=t.dtype)).attribute(
        x, n_masks=2000, mask_resolution=4, p_keep=0.3, generator=_gen())
    assert abs(float(saliency.mean()) - 3.0) < 0.1
    torch.testing.assert_close(saliency[:, 0], saliency[:, 1])  # one mask for all channels


def test_saliency_peaks_where_the_model_looks() -> None:
    def model(t: torch.Tensor) -> torch.Tensor:
        return t[:, 0, 2:5, 8:11].sum((1, 2))

    x = torch.ones(2, 1, 12, 12)
    saliency = RISE(model).attribute(x, n_masks=500, mask_resolution=4, generator=_gen())
    # far from the region, S is the mean score (9 p); inside it, the masks correlate with the score
    inside, outside = saliency[:, 0, 2:5, 8:11].mean(), saliency[:, 0, 8:, :4].mean()
    assert inside > 1.2 * outside and abs(float(outside) - 4.5) < 0.5
    peak = saliency[0, 0].argmax()
    assert 2 <= int(peak) // 12 < 5 and 8 <= int(peak) % 12 < 11


def test_seed_chunk_and_batch_invariance_and_1d_inputs() -> None:
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(20, 2)).double()
    x = torch.randn(3, 20, dtype=torch.float64)

    def run(inputs: torch.Tensor, ppe: int | None, seed: int = 0) -> torch.Tensor:
        return RISE(model).attribute(inputs, target=1, n_masks=64, mask_resolution=5, perturbations_per_eval=ppe,
                                     generator=_gen(seed))

    reference = run(x, None)
    assert reference.shape == x.shape
    torch.testing.assert_close(run(x, 5), reference)
    torch.testing.assert_close(torch.cat([run(x[i:i + 1], 7) for i in range(3)]), reference)
    assert not torch.allclose(run(x, None, seed=1), reference)
