"""Training of the synthetic-cell models: seeded, and bad settings named."""

from __future__ import annotations

import pytest
import torch

from veracity.synthetic import CellsCNN, MabCellsNet, make_cells, train_cells_cnn, train_mab_cells


def test_training_is_seeded_and_returns_eval_models() -> None:
    cells = make_cells(16, size=16, seed=0)
    a, b = train_cells_cnn(cells, seed=2, epochs=1, width=4), train_cells_cnn(cells, seed=2, epochs=1, width=4)
    assert isinstance(a, CellsCNN) and not a.training
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    mab = train_mab_cells(cells, seed=2, epochs=1, width=4, mab_weight=2.0)
    assert isinstance(mab, MabCellsNet) and not mab.training
    # the heatmap loss trains the head: with weight 0 the head keeps its initial weights
    torch.manual_seed(2)
    untouched = MabCellsNet(len(cells.class_names), width=4)
    zero = train_mab_cells(cells, seed=2, epochs=1, width=4, mab_weight=0.0)
    assert torch.equal(zero.bands.weight, untouched.bands.weight)
    assert not torch.equal(mab.bands.weight, untouched.bands.weight)


def test_bad_settings_are_named() -> None:
    cells = make_cells(8, size=16, seed=0)
    with pytest.raises(ValueError, match="`epochs`"):
        train_cells_cnn(cells, epochs=0)
    with pytest.raises(ValueError, match="`mab_weight`"):
        train_mab_cells(cells, mab_weight=-1.0)
    with pytest.raises(ValueError, match="`batch_size`"):
        train_mab_cells(cells, batch_size=0)
