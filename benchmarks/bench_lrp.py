"""LRP and CRP: veracity against Zennit 0.5.1 and against the raw forward/backward cost.

1. LRP with a composite on the ResNet-like CNN (3x64x64, batch 16): veracity's EpsilonPlusFlat
   and an epsilon-only composite, Zennit's EpsilonPlusFlat on the same call (the same rules:
   neither canonizes here, so both compute the same numbers; checked), and veracity with its
   ResNetCanonizer (BatchNorm merged, residual sums). Limit: one forward + backward of the batch.
2. CRP for 32 channels of ``block1`` (batch 4): one batched ``conditional_relevance`` call
   against 32 backward passes (the limit: 32 x forward+backward of the batch).

Zennit imports torchvision, which lives only in the anchors venv (``make bench-anchors``): run
from ``.venv`` this script re-runs itself there when it exists. ``--quick``: tiny sizes, only to
check that the script works. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import copy
import os
import pathlib
import subprocess
import sys
import warnings

import torch

sys.path.insert(0, os.path.dirname(__file__))
from _harness import best_time, forward_backward_limit, forward_limit, print_table  # noqa: E402
from models import images, resnet_like  # noqa: E402

from veracity import lrp  # noqa: E402
from veracity.attr import LRP  # noqa: E402

warnings.filterwarnings("ignore")
ANCHORS = pathlib.Path(__file__).resolve().parent.parent / ".venv-anchors" / "bin" / "python"


def _zennit_available() -> bool:
    try:
        import zennit  # noqa: F401
    except ImportError:
        return False
    return True


def _zennit_lrp(model: torch.nn.Module, x: torch.Tensor, target: int) -> torch.Tensor:
    from zennit.attribution import Gradient
    from zennit.composites import EpsilonPlusFlat

    def start(output: torch.Tensor) -> torch.Tensor:
        return output * torch.nn.functional.one_hot(torch.tensor(target), output.shape[1]).to(output.dtype)

    with Gradient(model=model, composite=EpsilonPlusFlat()) as attributor:
        return attributor(x, start)[1]


def positive_twin(model: torch.nn.Module) -> torch.nn.Module:
    """A copy whose convolution and linear weights are their positive parts (biases dropped)."""
    twin = copy.deepcopy(model)
    with torch.no_grad():
        for module in twin.modules():
            if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
                module.weight.clamp_(min=0)
                if module.bias is not None:
                    module.bias.zero_()
    return twin


def rule_limit(model: torch.nn.Module, x: torch.Tensor, rows: int, repeats: int,
               chunks: tuple[int, ...] = (16, 32, 64, 128)) -> float:
    """The raw cost a z+ composite needs at least: the model's forward (the activations) plus one
    forward+backward of its positive-weight twin (the z+ denominators, and the relevance sent
    back through them), each at its best chunk size."""
    plain, _ = forward_limit(model, x, rows=rows, chunks=chunks, repeats=repeats)
    twin, _ = forward_backward_limit(positive_twin(model), x, rows=rows, chunks=chunks, repeats=repeats)
    return plain + twin


def lrp_rows(batch: int, size: int, repeats: int) -> list[dict[str, object]]:
    model, target = resnet_like(), 3
    x = images(batch)[..., :size, :size].contiguous()
    limit, _ = forward_backward_limit(model, x, rows=batch, chunks=(batch,), repeats=repeats)
    zplus_limit = rule_limit(model, x, batch, repeats, chunks=(batch,))
    plain = lrp.EpsilonPlusFlat()
    epsilon_only = lrp.LayerMapComposite([(lrp.composites.LINEAR, lrp.Epsilon()), (torch.nn.ReLU, lrp.Pass()),
                                          (lrp.composites.AVG_POOL, lrp.Norm()),
                                          (lrp.composites.BATCH_NORM, lrp.Pass())])
    canonized = lrp.EpsilonPlusFlat(canonizers=[lrp.ResNetCanonizer()])
    calls = {
        "EpsilonPlusFlat": lambda: LRP(model, composite=plain).attribute(x, target=target),
        "Epsilon only": lambda: LRP(model, composite=epsilon_only).attribute(x, target=target),
        "EpsilonPlusFlat + ResNetCanonizer": lambda: LRP(model, composite=canonized).attribute(x, target=target),
    }
    zennit_s = None
    if _zennit_available():
        ours, theirs = calls["EpsilonPlusFlat"](), _zennit_lrp(model, x, target)
        assert torch.allclose(ours, theirs, atol=1e-5, rtol=1e-4), "veracity and Zennit disagree"
        zennit_s = best_time(lambda: _zennit_lrp(model, x, target), repeats)
    rows = []
    for name, fn in calls.items():
        seconds = best_time(fn, repeats)
        rows.append({"call": f"LRP {name}, batch {batch}, 3x{size}x{size}", "veracity_s": seconds,
                     "zennit_s": zennit_s if name == "EpsilonPlusFlat" else None,
                     "zennit/veracity": zennit_s / seconds if zennit_s and name == "EpsilonPlusFlat" else None,
                     "limit_s (1 fwd+bwd)": limit, "veracity/limit": seconds / limit,
                     "rule limit_s (fwd + W+ fwd+bwd)": None if name == "Epsilon only" else zplus_limit,
                     "veracity/rule limit": None if name == "Epsilon only" else seconds / zplus_limit})
    return rows


def crp_rows(batch: int, size: int, channels: int, repeats: int) -> list[dict[str, object]]:
    model, target = resnet_like(), 3
    x = images(batch)[..., :size, :size].contiguous()
    composite = lrp.EpsilonPlusFlat(canonizers=[lrp.ResNetCanonizer()])
    limit, chunk = forward_backward_limit(model, x, rows=batch * channels, repeats=repeats)
    zplus_limit = rule_limit(model, x, batch * channels, repeats)
    seconds = best_time(lambda: lrp.conditional_relevance(model, composite, x, target, "block1",
                                                          list(range(channels))), repeats)
    return [{"call": f"CRP {channels} channels of block1, batch {batch}, 3x{size}x{size}", "veracity_s": seconds,
             "zennit_s": None, "zennit/veracity": None,
             f"limit_s ({channels} fwd+bwd, chunk {chunk})": limit, "veracity/limit": seconds / limit,
             "rule limit_s (fwd + W+ fwd+bwd)": zplus_limit, "veracity/rule limit": seconds / zplus_limit}]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check that the script runs")
    args = parser.parse_args()
    if not _zennit_available() and ANCHORS.exists() and os.environ.get("BENCH_LRP_CHILD") is None:
        check = subprocess.run([str(ANCHORS), "-c", "import zennit"], capture_output=True)
        if check.returncode == 0:
            env = dict(os.environ, BENCH_LRP_CHILD="1")
            sys.exit(subprocess.run([str(ANCHORS), __file__, *sys.argv[1:]], env=env, check=False).returncode)
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
    repeats = 1 if args.quick else int(os.environ.get("BENCH_REPEATS", "3"))
    if args.quick:
        rows = lrp_rows(2, 16, repeats) + crp_rows(1, 16, 4, repeats)
    else:
        rows = lrp_rows(16, 64, repeats) + crp_rows(4, 64, 32, repeats)
    print(f"torch {torch.__version__}, Zennit {'yes' if _zennit_available() else 'not installed'}")
    print_table("LRP and CRP (seconds, best of runs)", rows[:-1])
    print_table("CRP", rows[-1:])


if __name__ == "__main__":
    main()
