"""`veracity explain-dataset`, `evaluate-dataset` and `summarize-store`, run as a shell user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("click")
pytest.importorskip("zarr")

from tests.cli.models import linear  # noqa: E402
from veracity.dataset import open_store, summarize  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
MODEL = "tests.cli.models:linear"


def veracity(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    for key in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        env.pop(key, None)
    return subprocess.run([sys.executable, "-m", "veracity.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=120)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    np.savez(folder / "data.npz", x=rng.random((7, 1, 4, 4)).astype(np.float32), y=np.array([0, 1, 2, 0, 1, 2, 0]))
    return folder / "data.npz"


def test_explain_dataset_stores_the_closed_form_and_refuses_another_run(data: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    common = ("explain-dataset", "--model", MODEL, "--data", str(data), "--store", str(store), "--chunk-size", "3",
              "--quiet")
    done = veracity(*common, "--arg", "IntegratedGradients.n_steps=4")
    assert done.returncode == 0, done.stderr
    assert "7/7 examples in 3/3 chunks" in done.stdout
    opened = open_store(store, verify=True)
    x, y = torch.from_numpy(np.load(data)["x"]), torch.from_numpy(np.load(data)["y"])
    w = linear()[1].weight.detach()
    closed = (x.flatten(1) * w[y]).reshape(x.shape).numpy()  # IG of a linear model, zero baseline
    np.testing.assert_allclose(opened.numpy("attributions"), closed, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(opened.numpy("targets"), y.numpy())
    assert opened.manifest["method"] == "IntegratedGradients" and opened.manifest["arguments"] == {"n_steps": 4}
    refused = veracity(*common, "--arg", "IntegratedGradients.n_steps=5")
    assert refused.returncode == 1 and "arguments differ" in refused.stderr and "Traceback" not in refused.stderr
    assert open_store(store).manifest == opened.manifest


def test_evaluate_dataset_and_summarize_store(data: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    done = veracity("evaluate-dataset", "--model", MODEL, "--data", str(data), "--store", str(store), "--method",
                    "Saliency", "--method", "InputXGradient", "--metric", "sparseness", "--metric",
                    "max_sensitivity", "--metric-arg", "max_sensitivity.n_samples=2", "--chunk-size", "4", "--quiet")
    assert done.returncode == 0, done.stderr
    assert "InputXGradient / sparseness:" in done.stdout
    opened = open_store(store, verify=True)
    assert opened.complete and opened.manifest["arguments"] == {
        "metrics": ["sparseness", ["max_sensitivity", {"n_samples": 2}]]}
    x, y = torch.from_numpy(np.load(data)["x"]), torch.from_numpy(np.load(data)["y"])
    w = linear()[1].weight.detach()
    np.testing.assert_allclose(opened.numpy("attributions/InputXGradient"),
                               (x.flatten(1) * w[y]).reshape(x.shape).numpy(), rtol=1e-5, atol=1e-6)
    out = tmp_path / "summary.json"
    summary = veracity("summarize-store", "--store", str(store), "--json", "--worst", "2", "--out", str(out))
    assert summary.returncode == 0, summary.stderr
    expected = summarize(store, n_worst=2)
    assert json.loads(summary.stdout) == expected == json.loads(out.read_text())
    assert {(c["method"], c["metric"]) for c in expected["metrics"]} == {
        (m, k) for m in ("Saliency", "InputXGradient") for k in ("sparseness", "max_sensitivity")}
    missing = veracity("summarize-store", "--store", str(tmp_path / "nowhere"))
    assert missing.returncode == 2  # Click's usage error: no such directory
