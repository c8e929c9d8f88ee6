"""Shapley estimators against exact Shapley values at equal model evaluations (part 3 of
``bench_accuracy.py``; also runnable alone: ``python benchmarks/_shapley_accuracy.py [--quick]``).

8 feature groups of the 8x8 digits (2 rows of 4 blocks of 4x2 pixels), baseline 0, the
logit of the predicted class, 16 test digits. The CNN is evaluated once on all 256 coalitions
of every digit; the estimators then run unchanged (the library's code, same generators, same
chunks) against a lookup of those values, so that enough seeds for a stable ratio take
seconds instead of an hour. One seed of every estimator is also run on the CNN itself and
must give the same attributions (the table prints the largest difference). Evaluations are
counted from the rows the estimators actually ask for.

Each estimator gets the budget ``e`` of model evaluations per example: permutation sampling
``(e - 2) / (n - 1)`` orders (veracity shares the full input and the baseline between orders:
``2 + k (n - 1)`` evaluations for ``k`` orders; Captum's own implementation spends
``1 + k n``), KernelShap ``e`` coalitions. MSE over digits and groups, averaged over seeds; the
ratio's standard error by the delta method over seeds.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Callable

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from veracity.attr import KernelShap, ShapleyValues, ShapleyValueSampling  # noqa: E402

N_GROUPS = 8
PLAIN, KERNEL = "permutation (Captum default)", "KernelShap (Captum default)"


def group_mask() -> torch.Tensor:
    """8 groups of the 8x8 digit: 2 rows of 4 blocks of 4x2 pixels."""
    rows = torch.arange(8).view(8, 1) // 4
    cols = torch.arange(8).view(1, 8) // 2
    return (rows * 4 + cols).view(1, 1, 8, 8)


class Lookup:
    """The model's values on the coalitions, read from a table: ``table[code, d]`` is the
    target logit of digit ``d`` with the groups of ``code`` present (others at 0). Called with
    ``target = arange(digits)``, every row's own column is selected. Counts the rows asked for."""

    def __init__(self, table: torch.Tensor, mask: torch.Tensor) -> None:
        self.table, self.rows = table, 0
        self.onehot = torch.nn.functional.one_hot(mask.reshape(-1), N_GROUPS).float()   # (64, 8)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        self.rows += x.shape[0]
        present = (x.reshape(x.shape[0], -1) != 0).float() @ self.onehot > 0       # a group's pixels
        code = (present.long() << torch.arange(N_GROUPS)).sum(1)   # all-zero groups change nothing
        return self.table[code]


def coalition_table(model: Any, x: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    codes = torch.arange(2 ** N_GROUPS)
    present = (codes.unsqueeze(1) >> torch.arange(N_GROUPS)) & 1
    keep = present[:, mask.reshape(-1)].view(-1, 1, 1, *x.shape[2:]).to(x.dtype)
    with torch.no_grad():
        out = torch.cat([model((k * x.unsqueeze(0)).flatten(0, 1)) for k in keep.split(32)])
    return out.view(len(codes), x.shape[0], -1)[:, torch.arange(x.shape[0]), target]


def estimators(f: Callable[..., torch.Tensor], x: torch.Tensor, target: torch.Tensor,
               mask: torch.Tensor) -> dict[str, Callable[[int, torch.Generator], torch.Tensor]]:
    n = N_GROUPS
    orders = lambda e: max(1, (e - 2) // (n - 1))  # noqa: E731
    common = {"target": target, "feature_mask": mask}
    return {
        PLAIN: lambda e, g: ShapleyValueSampling(f).attribute(x, n_samples=orders(e), generator=g, **common),
        "permutation antithetic": lambda e, g: ShapleyValueSampling(f).attribute(
            x, n_samples=max(2, orders(e)), generator=g, variance_reduction="antithetic", **common),
        "permutation stratified": lambda e, g: ShapleyValueSampling(f).attribute(
            x, n_samples=orders(e), generator=g, variance_reduction="stratified", **common),
        KERNEL: lambda e, g: KernelShap(f).attribute(x, n_samples=e, generator=g, **common),
        "KernelShap paired": lambda e, g: KernelShap(f).attribute(
            x, n_samples=e, generator=g, paired_sampling=True, **common),
    }


def _ratio(errors: torch.Tensor, anchor: torch.Tensor) -> tuple[float, float]:
    """mean(errors) / mean(anchor) and its delta-method standard error (paired by seed)."""
    a, b = errors.mean(), anchor.mean()
    ratio = a / b
    if errors.numel() < 2:
        return float(ratio), float("nan")
    cov = torch.cov(torch.stack([errors, anchor]))
    var = (cov[0, 0] / a ** 2 + cov[1, 1] / b ** 2 - 2 * cov[0, 1] / (a * b)) * ratio ** 2 / errors.numel()
    return float(ratio), float(var.clamp(min=0).sqrt())


def shapley(model: Any, x: torch.Tensor, target: torch.Tensor, budgets: list[int],
            seeds: int) -> tuple[list[dict], dict]:
    """Rows for the table and ``{estimator: [(evaluations, MSE)]}`` for the figure."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)   # thousands of small calls: one thread is faster (and kinder to a shared CPU)
    try:
        return _shapley(model, x, target, budgets, seeds)
    finally:
        torch.set_num_threads(threads)


def _shapley(model: Any, x: torch.Tensor, target: torch.Tensor, budgets: list[int],
             seeds: int) -> tuple[list[dict], dict]:
    mask = group_mask()
    target = torch.as_tensor(target)
    exact = ShapleyValues(model).attribute(x, target=target, feature_mask=mask)[:, :, ::4, ::2]
    lookup = Lookup(coalition_table(model, x, target, mask), mask)
    digits = torch.arange(x.shape[0])
    on_table = estimators(lookup, x, digits, mask)
    on_model = estimators(model, x, target, mask)
    check = max(float((on_table[name](budgets[0], torch.Generator().manual_seed(0)) -
                       on_model[name](budgets[0], torch.Generator().manual_seed(0))).abs().max())
                for name in on_table)
    rows, curves = [], {name: [] for name in on_table}
    for budget in budgets:
        errors, used = {}, {}
        for name, run in on_table.items():
            lookup.rows = 0
            per_seed = [((run(budget, torch.Generator().manual_seed(seed))[:, :, ::4, ::2] - exact) ** 2).mean()
                        for seed in range(seeds)]
            used[name] = lookup.rows / seeds / x.shape[0]
            errors[name] = torch.stack(per_seed).double()
            curves[name].append((used[name], float(errors[name].mean())))
        for name in on_table:
            anchor = errors[PLAIN if name.startswith("perm") else KERNEL]
            ratio, se = _ratio(errors[name], anchor)
            rows.append({"budget": budget, "estimator": name, "evaluations/example": used[name],
                         "MSE": float(errors[name].mean()), "MSE / Captum default": ratio, "± SE": se})
    print(f"\n(Shapley: {seeds} seeds; the estimators on the CNN itself differ from the table lookup by at most "
          f"{check:.1e})")
    return rows, curves


def main() -> None:
    from _harness import print_table

    from veracity.data.digits import load_digits, train_digits_cnn

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seeds", type=int, default=None)
    args = parser.parse_args()
    torch.manual_seed(0)
    data = load_digits()
    model = train_digits_cnn(data, epochs=3 if args.quick else 30).eval()
    x = data.test_x[:4 if args.quick else 16]
    with torch.no_grad():
        target = model(x).argmax(1)
    budgets = [58] if args.quick else [58, 114, 226, 450]
    rows, _ = shapley(model, x, target, budgets, args.seeds or (2 if args.quick else 100))
    print_table("Shapley estimators against exact Shapley values (8 groups, equal evaluations)", rows)


if __name__ == "__main__":
    main()
