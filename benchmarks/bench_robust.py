"""PGD: veracity vs Captum 0.9 on the same call, and the limit: its step_num forward+backward
passes of the batch with respect to the input (the attack needs nothing else). Must show
ratio to limit <= 1.2. ResNet-like CNN, batch 16 of 3x64x64, 20 L-inf steps, 2 threads.

Run: .venv/bin/python benchmarks/bench_robust.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import torch

sys.path.insert(0, os.path.dirname(__file__))
from _harness import print_table  # noqa: E402
from models import images, resnet_like  # noqa: E402

from veracity.robust import FGSM, PGD  # noqa: E402

warnings.filterwarnings("ignore")
torch.set_num_threads(2)


def interleaved(calls: list, repeats: int) -> list[float]:
    """The best time of each call over ``repeats`` rounds, every call timed once per round."""
    for call in calls:
        call()  # warm-up
    best = [float("inf")] * len(calls)
    for _ in range(repeats):
        for i, call in enumerate(calls):
            start = time.perf_counter()
            call()
            best[i] = min(best[i], time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    args = parser.parse_args()
    from captum.robust import FGSM as CaptumFGSM
    from captum.robust import PGD as CaptumPGD

    batch, steps, repeats = (4, 3, 1) if args.quick else (16, 20, 7)
    model = resnet_like()
    x = images(batch).clamp(-3, 3)
    target = torch.arange(batch) % 10
    loss = torch.nn.CrossEntropyLoss(reduction="none")
    kwargs = dict(radius=0.05, step_size=0.01, step_num=steps, target=target)
    agree = torch.allclose(PGD(model, loss, -3, 3).perturb(x, **kwargs),
                           CaptumPGD(model, loss, -3, 3).perturb(x, **kwargs), atol=1e-5)
    def limit_run(n: int) -> None:
        for _ in range(n):
            leaf = x.clone().requires_grad_()
            torch.autograd.grad(loss(model(leaf), target).sum(), leaf)

    # round-robin: each repeat times every case once, so drift on a noisy machine hits all alike
    veracity_s, captum_s, limit, fgsm_v, fgsm_c, one = interleaved([
        lambda: PGD(model, loss, -3, 3).perturb(x, **kwargs),
        lambda: CaptumPGD(model, loss, -3, 3).perturb(x, **kwargs),
        lambda: limit_run(steps),
        lambda: FGSM(model, loss, -3, 3).perturb(x, 0.01, target),
        lambda: CaptumFGSM(model, loss, -3, 3).perturb(x, 0.01, target),
        lambda: limit_run(1),
    ], repeats)
    print_table(f"Attacks, batch {batch}, 3x64x64, ResNet-like (results agree with Captum: {agree})", [
        {"method": f"PGD step_num={steps}", "captum s": captum_s, "veracity s": veracity_s,
         "ratio (captum/veracity)": captum_s / veracity_s, "limit s": limit, "ratio to limit": veracity_s / limit},
        {"method": "FGSM", "captum s": fgsm_c, "veracity s": fgsm_v, "ratio (captum/veracity)": fgsm_c / fgsm_v,
         "limit s": one, "ratio to limit": fgsm_v / one},
    ])


if __name__ == "__main__":
    main()
