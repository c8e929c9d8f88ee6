"""DataLoaderAttribution: veracity vs Captum 0.9 vs the limit (2 threads).

Run: .venv/bin/python benchmarks/bench_dataloader.py [--quick]   (needs captum==0.9.0).

FeatureAblation against a corpus metric (the summed output of class 0) over a DataLoader of
tabular rows, with feature groups. veracity traverses the DataLoader once and stacks all
perturbations of a batch in engine chunks (its default ``perturbations_per_pass=None``);
Captum runs at its default (1: one traversal per feature group) and at
``perturbations_per_pass = n_groups + 1`` (its best: one traversal). The limit is the forward
cost of the evaluations needed, (n_groups + 1) x rows, at the best rows-per-call of a plain loop.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

import torch
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, os.path.dirname(__file__))
from _harness import best_time, print_table  # noqa: E402

from veracity import attr as vattr  # noqa: E402

warnings.filterwarnings("ignore")
torch.set_num_threads(2)


def _total(accum, output, batch):  # noqa: ANN001, ANN201
    return output[:, 0].sum() + (0 if accum is None else accum)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="tiny sizes, to check that the script runs")
    quick = parser.parse_args().quick
    rows, width, groups, batch = (64, 16, 4, 16) if quick else (4096, 256, 32, 256)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(width, 512), torch.nn.ReLU(), torch.nn.Linear(512, 10)).eval()
    data = TensorDataset(torch.randn(rows, width), torch.zeros(rows))
    loader = DataLoader(data, batch_size=batch)
    mask = (torch.arange(width) * groups // width).unsqueeze(0)
    kwargs = {"input_roles": (0, 2), "feature_mask": mask, "reduce": _total}
    repeats = 1 if quick else 3
    ours = vattr.DataLoaderAttribution(vattr.FeatureAblation(model))
    table = [{"case": "veracity (default: one traversal)",
              "seconds": best_time(lambda: ours.attribute(loader, **kwargs), repeats)}]
    try:
        import captum.attr as cattr
    except ImportError:
        cattr = None
    if cattr is not None:
        theirs = cattr.DataLoaderAttribution(cattr.FeatureAblation(model))
        got = ours.attribute(loader, **kwargs)[0]
        want = theirs.attribute(loader, **kwargs)[0]
        assert torch.allclose(got, want, rtol=1e-4, atol=1e-3), "veracity and Captum disagree"
        table.append({"case": "Captum (default perturbations_per_pass=1)",
                      "seconds": best_time(lambda: theirs.attribute(loader, **kwargs), repeats)})
        table.append({"case": f"Captum (perturbations_per_pass={groups + 1})",
                      "seconds": best_time(lambda: theirs.attribute(loader, perturbations_per_pass=groups + 1,
                                                                    **kwargs), repeats)})
    pool = data.tensors[0].repeat(groups + 1, 1)

    def limit(chunk: int) -> None:
        with torch.inference_mode():
            for start in range(0, pool.shape[0], chunk):
                model(pool[start:start + chunk])

    limit_seconds = min(best_time(lambda c=c: limit(c), repeats) for c in (256, 1024, 4096))
    for row in table:
        row["ratio to veracity"] = row["seconds"] / table[0]["seconds"]
        row["ratio to limit"] = row["seconds"] / limit_seconds
    table.append({"case": f"limit: {(groups + 1) * rows} forward rows", "seconds": limit_seconds,
                  "ratio to veracity": limit_seconds / table[0]["seconds"], "ratio to limit": 1.0})
    print_table(f"DataLoaderAttribution: {rows} rows x {width} features in {groups} groups, batches of {batch}",
                table)


if __name__ == "__main__":
    main()
