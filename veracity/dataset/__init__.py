"""Dataset-scale attribution and evaluation: a whole data set's attributions, per-example metric
values and model outputs written, chunk by chunk, into a resumable Zarr store (the ``store``
extra: ``pip install 'veracity[store]'``), by one process or by the ranks of ``torchrun``;
:func:`summarize` reads a store back as a JSON-able summary."""

from veracity.dataset.attribute import attribute_dataset
from veracity.dataset.evaluate import evaluate_dataset
from veracity.dataset.store import DatasetStore, model_fingerprint, open_store
from veracity.dataset.summary import summarize

__all__ = ["DatasetStore", "attribute_dataset", "evaluate_dataset", "model_fingerprint", "open_store", "summarize"]
