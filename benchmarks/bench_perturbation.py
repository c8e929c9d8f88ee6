"""Perturbation family: veracity vs Captum 0.9 vs the limit, on the ResNet-like CNN (2 threads).

Run: .venv/bin/python benchmarks/bench_perturbation.py   (needs captum==0.9.0). The CPU of
the development machine is shared, so each case runs BENCH_REPEATS (default 3) interleaved rounds
and the table keeps the fastest of each; about 6 minutes on a quiet machine.

The limit is the forward cost of the evaluations each method needs (rows = perturbed copies x
examples), at the best rows-per-call found for a plain forward loop. Captum runs at
perturbations_per_eval = best rows / batch (its best setting; its default is 1); Captum's Lime and
KernelShap attribute one example per call, so there it runs at perturbations_per_eval = best rows.
"""

from __future__ import annotations

import os
import sys
import time
import warnings

import torch

sys.path.insert(0, os.path.dirname(__file__))
from _harness import best_time, print_table  # noqa: E402
from models import images, resnet_like  # noqa: E402

from veracity import attr as vattr  # noqa: E402

warnings.filterwarnings("ignore")
torch.set_num_threads(2)
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))


def superpixels(groups_per_side: int = 8, size: int = 64) -> torch.Tensor:
    """A (1, 1, size, size) mask of groups_per_side^2 square superpixels."""
    cell = size // groups_per_side
    rows = torch.arange(size) // cell
    return (rows.view(-1, 1) * groups_per_side + rows.view(1, -1)).view(1, 1, size, size)


def seconds_per_row(model: torch.nn.Module, x: torch.Tensor) -> tuple[float, int]:
    """The cheapest per-row forward cost over chunk sizes (and that chunk size)."""
    pool = x.repeat(64, 1, 1, 1)[:256]
    best = (float("inf"), 0)
    for chunk in (16, 32, 64, 128, 256):
        def run(c: int = chunk) -> None:
            with torch.inference_mode():
                for start in range(0, 256, c):
                    model(pool[start:start + c])
        best = min(best, (best_time(run, 2) / 256, chunk))
    return best


def timed(fn: object) -> float:
    return best_time(fn, REPEATS, warmup=0)


def main() -> None:
    import captum.attr as cattr

    model = resnet_like()
    x4, x16 = images(4), images(16)
    mask = superpixels()
    target = 3
    per_row, best_rows = seconds_per_row(model, x4)
    print(f"plain forward: {per_row * 1e3:.2f} ms/row at {best_rows} rows per call (chunk sweep)", flush=True)
    gen = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    occ = {"sliding_window_shapes": (3, 8, 8), "strides": (3, 4, 4), "target": target}
    cases = [
        ("Occlusion window 8 stride 4, batch 4", 4, 225 + 1,
         lambda p: cattr.Occlusion(model).attribute(x4, perturbations_per_eval=p, **occ),
         lambda: vattr.Occlusion(model).attribute(x4, **occ)),
        ("FeatureAblation 64 groups, batch 4", 4, 64 + 1,
         lambda p: cattr.FeatureAblation(model).attribute(x4, target=target, feature_mask=mask,
                                                          perturbations_per_eval=p),
         lambda: vattr.FeatureAblation(model).attribute(x4, target=target, feature_mask=mask)),
        ("ShapleyValueSampling 64 groups n=10, batch 4", 4, 10 * 63 + 2,
         lambda p: cattr.ShapleyValueSampling(model).attribute(x4, target=target, feature_mask=mask, n_samples=10,
                                                               perturbations_per_eval=p),
         lambda: vattr.ShapleyValueSampling(model).attribute(x4, target=target, feature_mask=mask, n_samples=10,
                                                             generator=gen())),
    ]
    per_example = set()
    for name, cls in (("KernelShap", "KernelShap"), ("Lime", "Lime")):
        for batch, x in ((4, x4), (16, x16)):
            label = f"{name} 64 groups n=300, batch {batch}" + (" (vs Captum's 16 calls)" if batch == 16 else "")
            per_example.add(label)
            cases.append((label,
                          batch, 300,
                          lambda p, c=cls, x=x: getattr(cattr, c)(model).attribute(
                              x, target=target, feature_mask=mask, n_samples=300, perturbations_per_eval=p),
                          lambda c=cls, x=x: getattr(vattr, c)(model).attribute(
                              x, target=target, feature_mask=mask, n_samples=300, generator=gen())))
    pool = x16.repeat(8, 1, 1, 1)[:128]

    def per_row_now() -> float:
        """The plain forward cost per row right now (the CPU is shared, so measure next to each case)."""
        def run() -> None:
            with torch.inference_mode():
                for start in range(0, 128, best_rows):
                    model(pool[start:start + best_rows])
        return best_time(run, 1, warmup=0) / 128

    best: dict[str, dict[str, float]] = {}
    for _ in range(REPEATS):
        for name, batch, points, captum_call, veracity_call in cases:
            ppe = best_rows if name in per_example else max(1, best_rows // batch)
            before = per_row_now()
            captum_s = timed(lambda c=captum_call, p=ppe: c(p))
            veracity_s = timed(veracity_call)
            limit = min(before, per_row_now()) * points * batch
            old = best.get(name, {"captum s": float("inf"), "veracity s": float("inf"), "limit s": float("inf")})
            best[name] = {"captum s": min(old["captum s"], captum_s), "veracity s": min(old["veracity s"], veracity_s),
                          "limit s": min(old["limit s"], limit)}
    rows = [{"method": name, "captum s": b["captum s"], "veracity s": b["veracity s"],
             "ratio (captum/veracity)": b["captum s"] / b["veracity s"], "limit s": b["limit s"],
             "ratio to limit": b["veracity s"] / b["limit s"]} for name, b in best.items()]
    print_table(f"Perturbation family, 3x64x64, 2 threads (limit: plain forward at {best_rows} rows per call, "
                f"measured next to each case; Captum at perturbations_per_eval = {best_rows} rows / batch; "
                f"best of {REPEATS} round(s))", rows)

    default_fa = timed(lambda: cattr.FeatureAblation(model).attribute(x4, target=target, feature_mask=mask))
    print(f"\nCaptum FeatureAblation at its default perturbations_per_eval=1: {default_fa:.3f} s")

    # Captum's Lime / KernelShap as users call them on a batch: 16 single-example calls, each
    # at the default perturbations_per_eval=1 (one forward per sample)
    defaults = []
    for cls in ("KernelShap", "Lime"):
        captum_s = best_time(lambda c=cls: getattr(cattr, c)(model).attribute(
            x16, target=target, feature_mask=mask, n_samples=300), 1, warmup=0)
        veracity_s = timed(lambda c=cls: getattr(vattr, c)(model).attribute(
            x16, target=target, feature_mask=mask, n_samples=300, generator=gen()))
        defaults.append({"method": f"{cls} 64 groups n=300, batch 16", "captum default s": captum_s,
                         "veracity s": veracity_s, "ratio (captum/veracity)": captum_s / veracity_s})
    print_table("Batch of 16 vs Captum at its defaults (16 per-example calls, perturbations_per_eval=1)",
                defaults)

    curve = []
    x1 = images(1)
    for side, n_samples in ((4, 5), (8, 5), (8, 10), (16, 5)):
        groups = side * side
        start = time.perf_counter()
        vattr.ShapleyValueSampling(model).attribute(x1, target=target, feature_mask=superpixels(side),
                                                    n_samples=n_samples, generator=gen())
        seconds = time.perf_counter() - start
        curve.append({"method": "ShapleyValueSampling", "features": groups, "samples": n_samples,
                      "features x samples": groups * n_samples, "s": seconds,
                      "ms per feature x sample": 1e3 * seconds / (groups * n_samples)})
    for side, n_samples in ((8, 100), (8, 200), (8, 400), (16, 400)):
        start = time.perf_counter()
        vattr.KernelShap(model).attribute(x1, target=target, feature_mask=superpixels(side), n_samples=n_samples,
                                          generator=gen())
        seconds = time.perf_counter() - start
        curve.append({"method": "KernelShap", "features": side * side, "samples": n_samples,
                      "features x samples": side * side * n_samples, "s": seconds,
                      "ms per feature x sample": 1e3 * seconds / (side * side * n_samples)})
    print_table("Growth (batch 1): ShapleyValueSampling evaluates features x samples points, so its cost per "
                "feature x sample is flat; KernelShap evaluates `samples` points whatever the number of features",
                curve)

    chunks = []
    for ppe in (None, 1, 4, 16, 64):
        per_row = per_row_now()
        seconds = timed(lambda p=ppe: vattr.FeatureAblation(model).attribute(x4, target=target, feature_mask=mask,
                                                                            perturbations_per_eval=p))
        chunks.append({"perturbations_per_eval": "auto" if ppe is None else ppe,
                       "rows per call": "budget" if ppe is None else ppe * 4, "FeatureAblation s": seconds,
                       "ratio to limit": seconds / (65 * 4 * per_row)})
    print_table("Chunk curve (FeatureAblation, 64 groups, batch 4)", chunks)


if __name__ == "__main__":
    main()
