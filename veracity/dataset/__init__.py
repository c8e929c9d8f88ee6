"""Dataset-scale attribution: a whole data set's attributions and model outputs written, chunk by
chunk, into a resumable Zarr store (the ``store`` extra: ``pip install 'veracity[store]'``)."""

from veracity.dataset.attribute import attribute_dataset
from veracity.dataset.store import DatasetStore, model_fingerprint, open_store

__all__ = ["DatasetStore", "attribute_dataset", "model_fingerprint", "open_store"]
