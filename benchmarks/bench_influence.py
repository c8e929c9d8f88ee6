"""TracInCP self-influence: veracity vs Captum 0.9 on the same call, and the limit.

2,000 training examples, 3 checkpoints, a digits-sized MLP (64 -> 128 -> 64 -> 10, 17k
parameters), cross-entropy with reduction='none', batch_size 100, 2 threads. veracity takes
per-example gradients with one vectorised call per batch and loads each checkpoint once; the
limit is the raw cost of one forward and one backward of the summed loss per batch and
checkpoint (a lower bound: per-example gradients cannot cost less). Must show ratio
(captum/veracity) >= 3.

Run: .venv/bin/python benchmarks/bench_influence.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import warnings

import torch
from torch import nn
from torch.utils.data import TensorDataset

sys.path.insert(0, os.path.dirname(__file__))
from _harness import best_time, print_table  # noqa: E402

from veracity.influence import TracInCP  # noqa: E402

warnings.filterwarnings("ignore")
torch.set_num_threads(2)


def load_with_lr(model: nn.Module, path: str) -> float:
    saved = torch.load(path)
    model.load_state_dict(saved["model"])
    return float(saved["lr"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    args = parser.parse_args()
    from captum.influence import TracInCP as CaptumTracInCP

    n_train, batch, repeats = (300, 100, 1) if args.quick else (2000, 100, 3)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10)).eval()
    folder = tempfile.mkdtemp()
    paths = []
    for c in range(3):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.05 * torch.randn_like(p))
        paths.append(os.path.join(folder, f"c{c}.pt"))
        torch.save({"model": model.state_dict(), "lr": 0.01 * (c + 1)}, paths[-1])
    x, y = torch.rand(n_train, 64), torch.randint(0, 10, (n_train,))
    data = TensorDataset(x, y)
    loss = nn.CrossEntropyLoss(reduction="none")

    ours = TracInCP(model, data, paths, load_with_lr, loss_fn=loss, batch_size=batch)
    theirs = CaptumTracInCP(model, data, paths, load_with_lr, loss_fn=loss, batch_size=batch)
    agree = torch.allclose(ours.self_influence(), theirs.self_influence(), rtol=1e-4, atol=1e-6)
    veracity_s = best_time(lambda: ours.self_influence(), repeats)
    captum_s = best_time(lambda: theirs.self_influence(), repeats)

    def limit_run() -> None:
        for path in paths:
            load_with_lr(model, path)
            for start in range(0, n_train, batch):
                out = model(x[start:start + batch])
                torch.autograd.grad(loss(out, y[start:start + batch]).sum(), list(model.parameters()))

    limit = best_time(limit_run, repeats)
    print_table(f"TracInCP.self_influence, {n_train} training examples, 3 checkpoints, batch {batch} "
                f"(results agree: {agree})",
                [{"method": "TracInCP self_influence", "captum s": captum_s, "veracity s": veracity_s,
                  "ratio (captum/veracity)": captum_s / veracity_s, "limit s": limit,
                  "ratio to limit": veracity_s / limit}])


if __name__ == "__main__":
    main()
