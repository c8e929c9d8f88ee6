"""evaluate_dataset: the grid's per-example scores and attributions in the store, resume without
recomputing complete chunks (counted model calls), kill -9, refused stores; summarize."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("zarr")

import veracity  # noqa: E402
import veracity.attr as va  # noqa: E402
from tests.dataset.test_attribute_dataset import FEATURES, Counting, Interrupted, N, data  # noqa: E402
from veracity.dataset import evaluate_dataset, open_store, summarize  # noqa: E402
from veracity.metrics import evaluate  # noqa: E402

METHODS = {"ig": va.IntegratedGradients, "ixg": va.InputXGradient}
METRICS = ["sparseness", "completeness", ("max_sensitivity", {"n_samples": 3})]
KWARGS = dict(batch_size=2, chunk_size=4, show_progress=False)  # 10 examples: chunks of 4, 4, 2


class Stop:
    """A metric that raises on its ``limit``-th call (one call per method and batch)."""

    __name__ = "stop"

    def __init__(self, limit: int | None = None) -> None:
        self.limit, self.calls = limit, 0

    def __call__(self, context):  # type: ignore[no-untyped-def]
        self.calls += 1
        if self.limit is not None and self.calls >= self.limit:
            raise Interrupted(f"interrupted at call {self.calls}")
        return torch.zeros(context.inputs.shape[0])


def stored(path: Path) -> dict[str, bytes]:
    opened = open_store(path, verify=True)
    return {name: opened.numpy(name).tobytes() for name in opened.manifest["arrays"]}


def test_the_store_holds_the_grid_s_scores_and_the_closed_form(tmp_path: Path) -> None:
    model, ds = Counting(), data()
    x, t = ds.tensors
    result = evaluate_dataset(model, ds, METHODS, METRICS, tmp_path, batch_size=N, chunk_size=N, seed=3,
                              show_progress=False)
    assert result.complete and result.manifest["n_chunks"] == 1
    torch.manual_seed(3 * 1_000_003 + 0)  # the seed of chunk 0; engine chunk sizes not tuned, as in the run
    with veracity.memory_budget(tune=False):
        table = evaluate(model, x, t, METHODS, METRICS, n_bootstrap=1, show_progress=False)
    for method in METHODS:
        for metric in ("sparseness", "completeness", "max_sensitivity"):
            got = result.numpy(f"metrics/{method}/{metric}")
            assert got.dtype == np.float64 and got.shape == (N,)
            np.testing.assert_array_equal(got, table[method, metric].scores.double().numpy())
        closed = (x * model.linear.weight.detach()[t]).numpy()  # linear model: x * W[target] for IG and IxG
        np.testing.assert_allclose(result.numpy(f"attributions/{method}"), closed, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(result.numpy(f"metrics/{method}/completeness"), 0, atol=1e-4)  # IG, IxG: complete
    np.testing.assert_allclose(result.numpy("outputs"), model(x).detach().numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(result.numpy("targets"), t.numpy())
    assert result.manifest["directions"] == {"sparseness": True, "completeness": False, "max_sensitivity": False}


def test_batches_and_chunks_do_not_change_deterministic_scores(tmp_path: Path) -> None:
    model, ds = Counting(), data()
    metrics = ["sparseness", "completeness"]
    one = evaluate_dataset(model, ds, METHODS, metrics, tmp_path / "one", batch_size=N, chunk_size=N,
                           show_progress=False)
    many = evaluate_dataset(model, ds, METHODS, metrics, tmp_path / "many", batch_size=1, chunk_size=3)
    for name in one.manifest["arrays"]:
        np.testing.assert_allclose(one.numpy(name), many.numpy(name), rtol=1e-5, atol=1e-6)


def test_resume_recomputes_nothing_for_complete_chunks(tmp_path: Path) -> None:
    ds = data()
    reference_model = Counting()
    evaluate_dataset(reference_model, ds, METHODS, [*METRICS, Stop()], tmp_path / "ref", **KWARGS)
    full_rows = reference_model.rows

    # calls of Stop: 2 per batch (one per method); chunk 0 = batches 1, 2 = calls 1-4; call 6 (batch 3) raises
    model = Counting()
    with pytest.raises(Interrupted):
        evaluate_dataset(model, ds, METHODS, [*METRICS, Stop(limit=6)], tmp_path / "run", **KWARGS)
    assert open_store(tmp_path / "run").manifest["complete"] == [0]

    model = Counting()
    result = evaluate_dataset(model, ds, METHODS, [*METRICS, Stop()], tmp_path / "run", **KWARGS)
    assert model.rows * N == full_rows * (N - 4)  # model calls: those of chunks 1 and 2, none of chunk 0
    assert stored(tmp_path / "run") == stored(tmp_path / "ref")
    assert result.manifest == open_store(tmp_path / "ref").manifest

    model = Counting()  # a complete store: no model call at all
    evaluate_dataset(model, ds, METHODS, [*METRICS, Stop()], tmp_path / "run", **KWARGS)
    assert model.rows == 0


KILL_SCRIPT = r"""
import os, signal, sys
sys.path.insert(0, {root!r})
import veracity.dataset.runner as runner
from tests.dataset.test_attribute_dataset import Counting, data
from tests.dataset.test_evaluate_dataset import KWARGS, METHODS, METRICS
from veracity.dataset import evaluate_dataset

real, calls = runner.write_manifest, [0]

def write_manifest(path, manifest):
    calls[0] += 1
    if calls[0] == 3:  # chunk 1's arrays are written, its manifest not: kill -9
        os.kill(os.getpid(), signal.SIGKILL)
    real(path, manifest)

runner.write_manifest = write_manifest
evaluate_dataset(Counting(), data(), METHODS, METRICS, {store!r}, **KWARGS)
"""


def test_kill_9_mid_run_then_resume_gives_the_uninterrupted_store(tmp_path: Path) -> None:
    root = str(Path(__file__).resolve().parents[2])
    evaluate_dataset(Counting(), data(), METHODS, METRICS, tmp_path / "ref", **KWARGS)
    done = subprocess.run([sys.executable, "-c", KILL_SCRIPT.format(root=root, store=str(tmp_path / "run"))],
                          cwd=root, capture_output=True, text=True, timeout=120)
    assert done.returncode == -9, done.stderr
    assert open_store(tmp_path / "run").manifest["complete"] == [0]
    model = Counting()
    evaluate_dataset(model, data(), METHODS, METRICS, tmp_path / "run", **KWARGS)
    assert model.rows > 0
    assert stored(tmp_path / "run") == stored(tmp_path / "ref")
    assert open_store(tmp_path / "run").manifest == open_store(tmp_path / "ref").manifest


@pytest.mark.parametrize("change, message", [
    ("model", "model differs"),
    ("metrics", "arguments differ"),
    ("methods", "method differs"),
    ("seed", "seed differs"),
])
def test_a_foreign_store_is_refused_naming_what_differs(tmp_path: Path, change: str, message: str) -> None:
    ds = data()
    evaluate_dataset(Counting(), ds, METHODS, ["sparseness"], tmp_path, **KWARGS)
    before = (tmp_path / "manifest.json").read_bytes()
    model = Counting(seed=7) if change == "model" else Counting()
    methods = {"ig": va.Saliency, "ixg": va.InputXGradient} if change == "methods" else METHODS
    metrics = [("sparseness", {"abs": False})] if change == "metrics" else ["sparseness"]
    with pytest.raises(ValueError, match=f"`store`.*{message}"):
        evaluate_dataset(model, ds, methods, metrics, tmp_path, seed=1 if change == "seed" else 0, **KWARGS)
    assert (tmp_path / "manifest.json").read_bytes() == before


def test_a_corrupt_chunk_is_refused(tmp_path: Path) -> None:
    import zarr

    evaluate_dataset(Counting(), data(), METHODS, ["sparseness"], tmp_path, **KWARGS)
    zarr.open_array(store=str(tmp_path / "metrics" / "ixg" / "sparseness"), mode="r+")[5] = 42.0
    with pytest.raises(ValueError, match=r"`store`.*chunk 1 of the 'metrics/ixg/sparseness' array.*corrupt"):
        evaluate_dataset(Counting(), data(), METHODS, ["sparseness"], tmp_path, **KWARGS)


def test_bad_arguments_are_named(tmp_path: Path) -> None:
    model, ds = Counting(), data()
    with pytest.raises(ValueError, match="`methods`.*'/'"):
        evaluate_dataset(model, ds, {"a/b": va.Saliency}, ["sparseness"], tmp_path / "a", **KWARGS)
    with pytest.raises(ValueError, match="`metrics`.*names from"):
        evaluate_dataset(model, ds, METHODS, ["no_such_metric"], tmp_path / "b", **KWARGS)
    with pytest.raises(TypeError, match="`metrics`"):
        evaluate_dataset(model, ds, METHODS, "sparseness", tmp_path / "c", **KWARGS)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="`methods`"):
        evaluate_dataset(model, ds, {}, ["sparseness"], tmp_path / "d", **KWARGS)
    pairs = torch.utils.data.TensorDataset(torch.ones(4, FEATURES), torch.ones(4, FEATURES), torch.zeros(4))
    with pytest.raises(TypeError, match="`data`.*several inputs"):
        evaluate_dataset(model, pairs, METHODS, ["sparseness"], tmp_path / "e", **KWARGS)


def test_summarize_gives_means_intervals_and_the_worst_examples(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    model, ds = Counting(), data()
    metrics = ["sparseness", ("max_sensitivity", {"n_samples": 3}), Stop()]
    evaluate_dataset(model, ds, METHODS, metrics, tmp_path, **KWARGS)
    summary = summarize(tmp_path, n_worst=3)
    assert json.loads(json.dumps(summary)) == summary  # plain JSON
    assert summary["complete"] and summary["n_done"] == N and summary["chunks_complete"] == 3
    x, t = ds.tensors
    assert summary["accuracy"] == pytest.approx(float((model(x).argmax(1) == t).float().mean()))
    cells = {(c["method"], c["metric"]): c for c in summary["metrics"]}
    assert set(cells) == {(m, k) for m in METHODS for k in ("sparseness", "max_sensitivity", "stop")}
    scores = open_store(tmp_path).numpy("metrics/ig/sparseness")
    cell = cells["ig", "sparseness"]
    assert cell["mean"] == pytest.approx(scores.mean()) and cell["low"] <= cell["mean"] <= cell["high"]
    assert [w["index"] for w in cell["worst"]] == np.argsort(scores, kind="stable")[:3].tolist()  # higher is better
    sensitivity = open_store(tmp_path).numpy("metrics/ixg/max_sensitivity")
    worst = [w["index"] for w in cells["ixg", "max_sensitivity"]["worst"]]
    assert worst == np.argsort(-sensitivity, kind="stable")[:3].tolist()  # lower is better
    assert cells["ig", "stop"]["higher_is_better"] is None and cells["ig", "stop"]["worst"] is None
    assert cell["interval"] == "bootstrap"

    import veracity.dataset.summary as summary_module  # many scores: the normal interval of the mean

    monkeypatch.setattr(summary_module, "BOOTSTRAP_LIMIT", 5)
    normal = {(c["method"], c["metric"]): c for c in summarize(tmp_path)["metrics"]}["ig", "sparseness"]
    half = 1.959963984540054 * scores.std(ddof=1) / np.sqrt(N)
    assert normal["interval"] == "normal" and normal["mean"] == pytest.approx(scores.mean())
    assert (normal["low"], normal["high"]) == pytest.approx((scores.mean() - half, scores.mean() + half))
    monkeypatch.undo()

    # a store half done: the summary covers the complete chunks only
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest.update(complete=[1], checksums={"1": manifest["checksums"]["1"]})
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    half = summarize(tmp_path)
    assert not half["complete"] and half["n_done"] == 4
    assert {(c["method"], c["metric"]): c for c in half["metrics"]}["ig", "sparseness"]["mean"] == pytest.approx(
        scores[4:8].mean())
