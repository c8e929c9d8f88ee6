"""The shared row statistics in `veracity.metrics._engine.stats` and the public wrappers over them."""

import pytest
import torch

from veracity.metrics._engine.stats import average_ranks, correlation, pearson_rows, spearman_rows
from veracity.metrics.similarity import pearson, rank, spearman


def test_average_ranks_any_leading_shape_equals_per_row() -> None:
    values = torch.randint(0, 4, (2, 3, 7), generator=torch.Generator().manual_seed(0)).float()
    expected = torch.stack([torch.stack([average_ranks(row[None])[0] for row in block])
                            for block in values])
    assert torch.equal(average_ranks(values), expected)
    assert average_ranks(values).dtype == torch.float64


def test_public_wrappers_share_the_kernels() -> None:
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(3, 12, generator=g).round(), torch.randn(3, 12, generator=g)
    assert torch.equal(rank(a), average_ranks(a).float())
    assert torch.equal(pearson(a, b), correlation(a, b))
    torch.testing.assert_close(spearman(a, b), spearman_rows(a, b))


def test_pearson_rows_float64_inside_float32_out_nan_for_constant_rows() -> None:
    a = torch.tensor([[1.0, 2.0, 3.0], [2.0, 2.0, 2.0]], dtype=torch.float64)
    out = pearson_rows(a, 2 * a + 1)
    assert out.dtype == torch.float32
    assert out[0] == 1 and torch.isnan(out[1])


def test_rank_names_a_bad_argument() -> None:
    with pytest.raises(ValueError, match="`values`"):
        rank(torch.ones(3))
    with pytest.raises(TypeError, match="`values`"):
        rank([1.0, 2.0])  # type: ignore[arg-type]
