"""Accuracy per model evaluation (issue 19): error-versus-evaluations curves.

    python benchmarks/bench_accuracy.py            # the full run (the lead's)
    python benchmarks/bench_accuracy.py --quick    # smoke test: tiny sizes

On the digits CNN (``veracity.data.digits.train_digits_cnn``; ReLU, max pooling):

1. IG on the logit (float64): exact IG (one gradient per linear piece) against quadrature at
   growing step counts: completeness error and attribution error relative to exact IG.
2. IG on the softmax output: Gauss-Legendre / trapezoid at growing step counts against
   ``method="adaptive"`` at several tolerances: counted evaluations per example, mean and max
   relative completeness error, how often the reported bound holds; and the evaluations GL
   needs for the error that adaptive reached at ``tolerance=1e-3`` (the issue's target: adaptive
   uses at most a third).
3. Shapley estimators on 8 feature groups of 16 digits against exact Shapley values (256
   coalitions), at equal evaluations, averaged over seeds: Captum's permutation sampling and
   KernelShap against antithetic / stratified permutations and paired KernelShap (target:
   at most a third of the MSE).
4. Overhead: seconds of adaptive and exact IG (and exact / adaptive LayerConductance) against
   the raw cost of the evaluations they used, timed in the same process with plain torch calls
   (target: within 1.2x). Adaptive IG's evaluations are forward+backward rows; exact IG's and
   conductance's rows also carry the path direction as a forward-mode tangent, so their limit
   is the same rows with a tangent (``torch.autograd.forward_ad``, what ``torch.func.jvp``
   does) and one backward; the ratio to plain forward+backward rows is printed as well.

Writes ``out/accuracy.png`` (matplotlib, optional) and prints Markdown tables.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import torch
import torch.autograd.forward_ad as fwad

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import best_time, print_table  # noqa: E402

from veracity.attr import (  # noqa: E402
    IntegratedGradients,
    LayerConductance,
)
from veracity.data.digits import load_digits, train_digits_cnn  # noqa: E402


def completeness(attr: torch.Tensor, f, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        rows = torch.arange(x.shape[0])
        delta = (f(x)[rows, target] - f(torch.zeros_like(x))[rows, target]).double()
    return (attr.flatten(1).sum(1).double() - delta).abs() / delta.abs()


def ig_logit(model, x, target, steps) -> list[dict]:
    m64 = model.double()
    x64 = x.double()
    ig = IntegratedGradients(m64)
    exact, report = ig.attribute(x64, target=target, method="exact", return_report=True)
    rows = [{"method": "exact", "evaluations/example": float(report.evaluations.double().mean()),
             "completeness err": float(completeness(exact, m64, x64, target).max()), "attribution err": 0.0}]
    scale = exact.flatten(1).abs().sum(1)
    for rule in ("gausslegendre", "riemann_trapezoid"):
        for n in steps:
            attr = ig.attribute(x64, target=target, n_steps=n, method=rule)
            rows.append({"method": rule, "evaluations/example": n,
                         "completeness err": float(completeness(attr, m64, x64, target).mean()),
                         "attribution err": float(((attr - exact).flatten(1).abs().sum(1) / scale).mean())})
    model.float()
    return rows


def ig_softmax(model, x, target, steps, tolerances) -> tuple[list[dict], dict]:
    def f(inp):
        return torch.softmax(model(inp), 1)

    ig = IntegratedGradients(f)
    rows, curves = [], {"gausslegendre": [], "riemann_trapezoid": [], "adaptive": []}
    for rule in ("gausslegendre", "riemann_trapezoid"):
        for n in steps:
            err = completeness(ig.attribute(x, target=target, n_steps=n, method=rule), f, x, target)
            rows.append({"method": rule, "setting": f"n_steps={n}", "evaluations/example": n,
                         "mean err": float(err.mean()), "max err": float(err.max()), "bound holds": "-"})
            curves[rule].append((n, float(err.mean()), float(err.max())))
    for tol in tolerances:
        attr, report = ig.attribute(x, target=target, method="adaptive", tolerance=tol, return_report=True)
        err = completeness(attr, f, x, target)
        evals = float(report.evaluations.double().mean())
        rows.append({"method": "adaptive", "setting": f"tolerance={tol:g}", "evaluations/example": evals,
                     "mean err": float(err.mean()), "max err": float(err.max()),
                     "bound holds": float((report.error_bound >= err - 1e-12).double().mean())})
        curves["adaptive"].append((evals, float(err.mean()), float(err.max())))
    return rows, curves


def needed(curve: list[tuple[float, float, float]], column: int, goal: float) -> float:
    """Evaluations at which a quadrature curve first reaches ``goal`` (log-log interpolation)."""
    for (n0, *e0), (n1, *e1) in zip(curve, curve[1:]):
        a, b = e0[column - 1], e1[column - 1]
        if b <= goal < a:
            t = (math.log(a) - math.log(goal)) / (math.log(a) - math.log(b))
            return math.exp(math.log(n0) + t * (math.log(n1) - math.log(n0)))
        if a <= goal:
            return n0
    return float("inf")


from _shapley_accuracy import shapley  # noqa: E402  (part 3, Shapley estimators: benchmarks/_shapley_accuracy.py)


def _rows_pool(x: torch.Tensor, rows: int) -> torch.Tensor:
    return x.repeat((rows + x.shape[0] - 1) // x.shape[0], *([1] * (x.dim() - 1)))[:rows]


CHUNKS = [(128, 512, 2048)]       # the raw loops' chunk sizes (the best one counts); --quick: one


def jvp_backward_limit(f, x: torch.Tensor, rows: int, target) -> float:
    """The raw cost of the evaluations exact IG asks for: ``rows`` rows through ``f`` with a
    forward-mode tangent (the path direction, as torch.func.jvp would carry it) and one
    backward from the explained output, at the best chunk size; plain torch calls."""
    pool = _rows_pool(x, rows)
    direction = torch.ones_like(pool)

    def run(chunk: int) -> None:
        for start in range(0, rows, chunk):
            rows_x = pool[start:start + chunk].clone().requires_grad_()
            with fwad.dual_level():
                out = fwad.unpack_dual(f(fwad.make_dual(rows_x, direction[start:start + chunk]))).primal
            torch.autograd.grad(out[:, target].sum(), rows_x)

    return min(best_time(lambda c=c: run(c), 3) for c in CHUNKS[0])


def fb_limit(f, x: torch.Tensor, rows: int, target) -> float:
    """The raw cost of ``rows`` plain forward+backward rows through ``f`` (best chunk size)."""
    pool = _rows_pool(x, rows)

    def run(chunk: int) -> None:
        for start in range(0, rows, chunk):
            rows_x = pool[start:start + chunk].clone().requires_grad_()
            torch.autograd.grad(f(rows_x)[:, target].sum(), rows_x)

    return min(best_time(lambda c=c: run(c), 3) for c in CHUNKS[0])


def round_sizes(run) -> list[int]:
    """The rows adaptive IG evaluates in each round (it cannot batch rows of later rounds, which
    depend on earlier results): recorded by wrapping the private per-round evaluator."""
    import veracity._core.adaptive as adaptive
    sizes: list[int] = []
    original = adaptive._evaluate

    def recording(call, baselines, store, ex, *rest):
        sizes.append(int(ex.numel()))
        return original(call, baselines, store, ex, *rest)

    adaptive._evaluate = recording
    try:
        run()
    finally:
        adaptive._evaluate = original
    return sizes


def rounds_limit(f, x: torch.Tensor, sizes: list[int], target) -> float:
    """The raw cost of plain forward+backward rows in adaptive IG's rounds: each round's rows
    at the best chunk size (capped by the round), rounds one after another."""
    pool = _rows_pool(x, max(sizes))

    def run(chunk: int) -> None:
        for size in sizes:
            for start in range(0, size, chunk):
                rows_x = pool[start:min(start + chunk, size)].clone().requires_grad_()
                torch.autograd.grad(f(rows_x)[:, target].sum(), rows_x)

    return min(best_time(lambda c=c: run(c), 3) for c in CHUNKS[0])


def overhead(model, x, target, tolerance) -> list[dict]:
    """Seconds of each method against the raw cost of the evaluations it used (same process).

    adaptive: its rows are plain forward+backward rows, so the limit is that. exact (and
    conductance, exact or adaptive): every row also carries the path direction as a
    forward-mode tangent, so the limit is the same rows with a tangent and a backward
    (``jvp_backward_limit``); the ratio to plain forward+backward rows is printed too, so that
    the tangent's own price is visible (on CPU in float64 it is most of it)."""
    target = int(target[0])          # one class for all rows: the raw loops need no gather

    def f(inp):
        return torch.softmax(model(inp), 1)

    out = []

    def add(name, seconds, report, limit, plain):
        rows = int(report.evaluations.sum())
        out.append({"method": name, "rows": rows, "rounds": report.rounds, "seconds": seconds,
                    "raw limit seconds": limit, "ratio to limit": seconds / limit,
                    "raw f+b seconds": plain, "ratio to f+b": seconds / plain})

    ig = IntegratedGradients(f)
    run = lambda: ig.attribute(x, target=target, method="adaptive", tolerance=tolerance,  # noqa: E731
                               return_report=True)
    report = run()[1]
    rows = int(report.evaluations.sum())
    plain = fb_limit(f, x, rows, target)
    add("IG adaptive (softmax, float32)", best_time(run, 3), report, plain, plain)
    sizes = round_sizes(run)
    add(f"IG adaptive, limit = raw rows in its {len(sizes)} rounds", out[-1]["seconds"], report,
        rounds_limit(f, x, sizes, target), plain)
    m64, x64 = model.double(), x.double()
    ig64 = IntegratedGradients(m64)
    run = lambda: ig64.attribute(x64, target=target, method="exact", return_report=True)  # noqa: E731
    report = run()[1]
    rows = int(report.evaluations.sum())
    add("IG exact (logit, float64)", best_time(run, 3), report, jvp_backward_limit(m64, x64, rows, target),
        fb_limit(m64, x64, rows, target))
    lc = LayerConductance(m64, m64.conv2)
    run = lambda: lc.attribute(x64, target=target, method="exact", return_report=True)  # noqa: E731
    report = run()[1]
    rows = int(report.evaluations.sum())
    add("LayerConductance exact (conv2, logit, float64)", best_time(run, 3), report,
        jvp_backward_limit(m64, x64, rows, target), fb_limit(m64, x64, rows, target))
    model.float()
    lc = LayerConductance(f, model.conv2)
    run = lambda: lc.attribute(x, target=target, method="adaptive", tolerance=tolerance,  # noqa: E731
                               return_report=True)
    report = run()[1]
    rows = int(report.evaluations.sum())
    add("LayerConductance adaptive (conv2, softmax, float32)", best_time(run, 3), report,
        jvp_backward_limit(f, x, rows, target), fb_limit(f, x, rows, target))
    return out


def figure(logit_rows, curves, shap_curves, path: Path) -> None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("\n(matplotlib not installed: no figure)")
        return
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    ax = axes[0]
    for rule in ("gausslegendre", "riemann_trapezoid"):
        pts = [(r["evaluations/example"], r["attribution err"]) for r in logit_rows if r["method"] == rule]
        ax.loglog(*zip(*pts), "o-", label=rule)
    exact = next(r for r in logit_rows if r["method"] == "exact")
    ax.axvline(exact["evaluations/example"], color="k", ls="--", label="exact IG (error 0)")
    ax.set(xlabel="gradient evaluations per example", ylabel="L1 error vs exact IG (relative)",
           title="IG on the logit (ReLU CNN)")
    ax.legend()
    ax = axes[1]
    for name, pts in curves.items():
        ax.loglog([p[0] for p in pts], [p[1] for p in pts], "o-", label=f"{name} (mean)")
    ax.loglog([p[0] for p in curves["adaptive"]], [p[2] for p in curves["adaptive"]], "s--", label="adaptive (max)")
    ax.set(xlabel="gradient evaluations per example", ylabel="relative completeness error",
           title="IG on the softmax output")
    ax.legend()
    ax = axes[2]
    for name, pts in shap_curves.items():
        ax.loglog([p[0] for p in pts], [p[1] for p in pts], "o-", label=name)
    ax.set(xlabel="model evaluations per example", ylabel="MSE vs exact Shapley", title="Shapley, 8 groups")
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(exist_ok=True)
    fig.savefig(path, dpi=120)
    print(f"\nfigure: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        CHUNKS[0] = (512,)
    torch.manual_seed(0)
    data = load_digits()
    model = train_digits_cnn(data, epochs=3 if args.quick else 30).eval()
    count = 4 if args.quick else 64
    x = data.test_x[:count]
    with torch.no_grad():
        target = model(x).argmax(1)
    steps = [8, 32] if args.quick else [16, 64, 256, 1024, 4096]
    logit_rows = ig_logit(model, x[:2] if args.quick else x[:16], target[:2] if args.quick else target[:16], steps)
    print_table("IG on the logit, float64: quadrature against exact IG", logit_rows)
    soft_steps = [16, 64] if args.quick else [16, 50, 200, 800, 1600, 3200, 6400]
    tolerances = [1e-2] if args.quick else [1e-2, 3e-3, 1e-3, 3e-4]
    soft_rows, curves = ig_softmax(model, x, target, soft_steps, tolerances)
    print_table("IG on the softmax output: quadrature against adaptive", soft_rows)
    if not args.quick:
        at = next(r for r in soft_rows if r["setting"] == "tolerance=0.001")
        compare = []
        for column, label in ((1, "mean err"), (2, "max err")):
            gl = needed(curves["gausslegendre"], column, at[label])
            compare.append({"criterion": f"{label} <= {at[label]:.2e}",
                            "adaptive evaluations": at["evaluations/example"],
                            "Gauss-Legendre evaluations": gl, "ratio": at["evaluations/example"] / gl})
        print_table("Adaptive (tolerance=1e-3) against the Gauss-Legendre steps for the same error", compare)
    budgets = [58] if args.quick else [58, 114, 226, 450]
    shap_rows, shap_curves = shapley(model, data.test_x[:16] if not args.quick else x,
                                     target if args.quick else _targets(model, data.test_x[:16]),
                                     budgets, 2 if args.quick else 50)
    print_table("Shapley estimators against exact Shapley values (8 groups, equal evaluations)", shap_rows)
    print_table("Overhead: seconds against the raw cost of the same evaluations (same process)",
                overhead(model, x[:2] if args.quick else x, target, 1e-2 if args.quick else 1e-3))
    figure(logit_rows, curves, shap_curves, Path("out/accuracy.png"))


def _targets(model, x):
    with torch.no_grad():
        return model(x).argmax(1)


if __name__ == "__main__":
    main()
