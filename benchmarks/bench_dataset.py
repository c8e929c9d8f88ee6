"""attribute_dataset: the overhead of the chunked Zarr store against in-memory attribution (1 thread).

Run: .venv/bin/python benchmarks/bench_dataset.py [--quick]   (needs zarr and scikit-learn).

IntegratedGradients of a digits CNN over the whole digits data set (train + test, 1797 images),
``batch_size`` examples per call. In memory: the same batches attributed and the model's outputs
predicted, results concatenated in NumPy (what a user's own loop does). Store: ``attribute_dataset``
into a fresh temporary directory (the manifest, per-chunk checksums and Zarr writes included).
Goal (issue 17): store overhead under 5%. Throughput from 1 to 2 processes needs the distributed
runner, which is not built yet.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

import numpy as np
import torch
from torch.utils.data import TensorDataset

sys.path.insert(0, os.path.dirname(__file__))
from _harness import best_time, print_table  # noqa: E402

from veracity import attr as vattr  # noqa: E402
from veracity._core.predict import predict  # noqa: E402
from veracity.data.digits import load_digits, train_digits_cnn  # noqa: E402
from veracity.dataset import attribute_dataset  # noqa: E402

torch.set_num_threads(1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="tiny sizes, to check that the script runs")
    quick = parser.parse_args().quick
    digits = load_digits()
    x = torch.cat([digits.train_x, digits.test_x])
    y = torch.cat([digits.train_y, digits.test_y])
    n, steps, batch, chunk, epochs = (128, 8, 32, 64, 1) if quick else (len(y), 32, 64, 256, 10)
    x, y = x[:n], y[:n]
    model = train_digits_cnn(digits, epochs=epochs)
    method = vattr.IntegratedGradients(model)
    data = TensorDataset(x, y)

    def in_memory() -> None:
        attributions, outputs = [], []
        for start in range(0, n, batch):
            inputs, targets = x[start:start + batch], y[start:start + batch]
            attributions.append(method.attribute(inputs, target=targets, n_steps=steps).numpy())
            outputs.append(predict(model, inputs, batch_size=batch).numpy())
        np.concatenate(attributions), np.concatenate(outputs)

    def stored() -> None:
        with tempfile.TemporaryDirectory() as directory:
            attribute_dataset(method, data, directory, batch_size=batch, chunk_size=chunk, show_progress=False,
                              n_steps=steps)

    repeats = 1 if quick else 3
    memory_s = best_time(in_memory, repeats=repeats)
    store_s = best_time(stored, repeats=repeats)
    print_table(f"attribute_dataset store overhead (IG, {steps} steps, {n} digits, batch {batch}, chunk {chunk})", [
        {"run": "in memory", "seconds": f"{memory_s:.3f}", "examples/s": f"{n / memory_s:.0f}", "overhead": "-"},
        {"run": "Zarr store", "seconds": f"{store_s:.3f}", "examples/s": f"{n / store_s:.0f}",
         "overhead": f"{100 * (store_s / memory_s - 1):+.1f}% (goal < 5%)"},
    ])


if __name__ == "__main__":
    main()
