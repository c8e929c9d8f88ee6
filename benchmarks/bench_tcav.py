"""TCAV: veracity vs Captum 0.9 on 3 layers x 10 random concepts (ResNet-like CNN, 2 threads).

Run: .venv/bin/python benchmarks/bench_tcav.py [--quick]   (needs captum==0.9.0: the bench extra)

Experimental sets ``[concept, random_i]`` for i = 1..10 at ``block1``, ``block2`` and ``pool``.
"cold": CAVs trained from scratch (fresh cache folders) and scores computed, each library with
its default classifier (Captum: scikit-learn's SGDClassifier; veracity: torch Newton logistic
regression); "warm": the CAVs are already cached on disk and only the scores are computed.
The limit is the model work both must do: a forward pass over every concept example and one
forward+backward pass over the inputs (each library needs at least that).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import warnings

import torch

sys.path.insert(0, os.path.dirname(__file__))
from _harness import best_time, print_table  # noqa: E402
from models import images, resnet_like  # noqa: E402

from veracity import concept as vconcept  # noqa: E402

warnings.filterwarnings("ignore")
torch.set_num_threads(2)
LAYERS = ["block1", "block2", "pool"]


def main() -> None:
    import captum.concept as cconcept

    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="tiny sizes, to check that the script runs")
    args = parser.parse_args()
    per_concept, n_inputs, repeats = (8, 8, 1) if args.quick else (64, 64, 3)
    model = resnet_like()
    x = images(n_inputs, seed=1)
    pool = images(per_concept * 11, seed=2)

    def concepts(lib: object) -> tuple[object, list[object]]:
        make = lib.Concept  # type: ignore[attr-defined]
        loader = lambda i: torch.utils.data.DataLoader(pool[i * per_concept:(i + 1) * per_concept] + 0.3 * (i == 0),  # noqa: E731
                                                       batch_size=per_concept)
        return make(0, "concept", loader(0)), [make(i, f"random{i}", loader(i)) for i in range(1, 11)]

    def run_captum(folder: str) -> object:
        concept, randoms = concepts(cconcept)
        tcav = cconcept.TCAV(model, LAYERS, save_path=folder + "/")
        return tcav.interpret(x, [[concept, r] for r in randoms], target=3)

    def run_veracity(folder: str) -> object:
        concept, randoms = concepts(vconcept)
        tcav = vconcept.TCAV(model, LAYERS, save_path=folder)
        return tcav.interpret(x, [[concept, r] for r in randoms], target=3)

    def cold(fn: object) -> float:
        def once() -> None:
            with tempfile.TemporaryDirectory() as folder:
                fn(folder)  # type: ignore[operator]
        return best_time(once, repeats)

    def warm(fn: object) -> float:
        with tempfile.TemporaryDirectory() as folder:
            fn(folder)  # type: ignore[operator]
            return best_time(lambda: fn(folder), repeats, warmup=0)  # type: ignore[operator]

    def limit() -> None:
        with torch.inference_mode():
            for i in range(11):
                model(pool[i * per_concept:(i + 1) * per_concept])
        inputs = x.clone().requires_grad_()
        torch.autograd.grad(model(inputs)[:, 3].sum(), inputs)

    limit_s = best_time(limit, repeats)
    rows = []
    for name, measure in (("cold (train 30 CAVs + scores)", cold), ("warm (cached CAVs, scores)", warm)):
        anchor, ours = measure(run_captum), measure(run_veracity)
        rows.append({"TCAV, 3 layers x 10 random concepts": name, "captum s": anchor, "veracity s": ours,
                     "ratio (captum/veracity)": anchor / ours, "limit s": limit_s, "ratio to limit": ours / limit_s})
    print_table(f"TCAV ({per_concept} examples per concept, {n_inputs} inputs, ResNet-like, 64x64 inputs)", rows)


if __name__ == "__main__":
    main()
