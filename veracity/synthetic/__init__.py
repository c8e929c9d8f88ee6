"""Synthetic data with exact ground-truth explanations (seed O: Tjoa & Guan's synthetic cells).

:func:`make_cells` draws cell images, labels and the three-level ground-truth heatmaps that
match the drawing exactly; :class:`CellsCNN` / :class:`MabCellsNet` and
:func:`train_cells_cnn` / :func:`train_mab_cells` train small models on them in seconds
(the latter with the heatmap head that :class:`veracity.attr.LayerMabCam` reads). Score any
attribution against the heatmaps with :mod:`veracity.metrics.localisation` (including
:func:`~veracity.metrics.five_band_score`, the paper's banded score).
"""

from veracity.synthetic.cells import BACKGROUNDS, CELL_CLASSES, FEATURE, LOCALISATION, Cells, cell_masks, make_cells
from veracity.synthetic.models import CellsCNN, MabCellsNet
from veracity.synthetic.training import band_labels, train_cells_cnn, train_mab_cells

__all__ = ["BACKGROUNDS", "CELL_CLASSES", "FEATURE", "LOCALISATION", "Cells", "CellsCNN", "MabCellsNet",
           "band_labels", "cell_masks", "make_cells", "train_cells_cnn", "train_mab_cells"]
