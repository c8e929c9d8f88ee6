"""Training of the synthetic-cell models (seconds on a CPU): the classifier on cross-entropy,
the mabCAM model on cross-entropy plus ``mab_weight`` times the cross-entropy of its heatmap
levels against the banded ground truth (Tjoa & Guan's ``CE(y) + R * CE(h, h0)``)."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from veracity._core.validate import check_positive_int, fail
from veracity.synthetic.cells import FEATURE, LOCALISATION, Cells
from veracity.synthetic.models import CellsCNN, MabCellsNet

__all__ = ["band_labels", "train_cells_cnn", "train_mab_cells"]


def band_labels(heatmaps: Tensor) -> Tensor:
    """Ground-truth heatmaps (0 / 0.4 / 0.9) as level indices 0 / 1 / 2 (long).

    Example:
        >>> import torch
        >>> band_labels(torch.tensor([[0.0, 0.4, 0.9]])).tolist()
        [[0, 1, 2]]
    """
    levels = torch.zeros(heatmaps.shape, dtype=torch.long)
    levels[heatmaps == torch.tensor(LOCALISATION, dtype=heatmaps.dtype)] = 1
    levels[heatmaps == torch.tensor(FEATURE, dtype=heatmaps.dtype)] = 2
    return levels


def _train(model: CellsCNN, cells: Cells, seed: int, epochs: int, lr: float, batch_size: int,
           mab_weight: float, show_progress: bool) -> CellsCNN:
    check_positive_int("epochs", epochs)
    check_positive_int("batch_size", batch_size)
    generator = torch.Generator().manual_seed(seed)
    levels = band_labels(cells.heatmaps)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in tqdm(range(epochs), desc="cells training", disable=not show_progress):
        order = torch.randperm(len(cells), generator=generator)
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            optimizer.zero_grad()
            early, late = model.features(cells.images[idx])
            loss = nn.functional.cross_entropy(model.classify(late), cells.labels[idx])
            if isinstance(model, MabCellsNet) and mab_weight > 0:
                loss = loss + mab_weight * nn.functional.cross_entropy(model.band_logits(early, late), levels[idx])
            loss.backward()
            optimizer.step()
    return model.eval()


def train_cells_cnn(cells: Cells, seed: int = 0, epochs: int = 6, lr: float = 3e-3, batch_size: int = 64,
                    width: int = 16, show_progress: bool = False) -> CellsCNN:
    """A :class:`CellsCNN` trained with Adam on ``cells`` under ``seed``; eval mode.

    Example:
        >>> from veracity.synthetic import make_cells, train_cells_cnn
        >>> model = train_cells_cnn(make_cells(32, size=16), epochs=1)
        >>> model.training
        False
    """
    torch.manual_seed(seed)
    classes = len(cells.class_names)
    return _train(CellsCNN(classes, width), cells, seed, epochs, lr, batch_size, 0.0, show_progress)


def train_mab_cells(cells: Cells, seed: int = 0, epochs: int = 6, mab_weight: float = 1.0, lr: float = 3e-3,
                    batch_size: int = 64, width: int = 16, show_progress: bool = False) -> MabCellsNet:
    """A :class:`MabCellsNet` trained on ``CE(labels) + mab_weight * CE(bands, banded heatmaps)``.

    Example:
        >>> from veracity.synthetic import make_cells, train_mab_cells
        >>> model = train_mab_cells(make_cells(32, size=16), epochs=1, mab_weight=5.0)
        >>> model.bands.out_channels
        3
    """
    if isinstance(mab_weight, bool) or not isinstance(mab_weight, (int, float)) or mab_weight < 0:
        fail("mab_weight", "a non-negative number (the paper's R)", mab_weight)
    torch.manual_seed(seed)
    classes = len(cells.class_names)
    model = _train(MabCellsNet(classes, width), cells, seed, epochs, lr, batch_size, float(mab_weight), show_progress)
    assert isinstance(model, MabCellsNet)
    return model
