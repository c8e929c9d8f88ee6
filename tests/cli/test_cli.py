"""The `veracity` command line, each command run as a shell user would: a subprocess, its exit
code, what it prints and the files it writes."""

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
pytest.importorskip("matplotlib")

from tests.cli.models import linear  # noqa: E402
from veracity import registry  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
MODEL = "tests.cli.models:linear"


def veracity(*args: str, cwd: Path = ROOT, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "veracity.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=timeout)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    np.savez(folder / "data.npz", x=rng.random((6, 1, 4, 4)).astype(np.float32), y=np.array([0, 1, 2, 0, 1, 2]))
    np.save(folder / "x.npy", rng.random((5, 1, 4, 4)).astype(np.float32))
    return folder


def test_methods_lists_every_public_method() -> None:
    result = veracity("methods")
    assert result.returncode == 0, result.stderr
    listed = {line.split()[0] for line in result.stdout.splitlines()[1:] if line.strip()}
    assert listed == {m.name for m in registry.methods()}
    as_json = json.loads(veracity("methods", "--json", "--family", "cam").stdout)
    assert [m["name"] for m in as_json] == [m.name for m in registry.methods("cam")]
    assert {"completeness", "closed_form", "dummy_exact"} <= set(as_json[0])


def test_explain_writes_attributions_that_are_the_library_s(data: Path, tmp_path: Path) -> None:
    result = veracity("explain", "--model", MODEL, "--data", str(data / "data.npz"), "--method", "Saliency",
                      "--method", "IntegratedGradients", "--arg", "IntegratedGradients.n_steps=8",
                      "--target", "label", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    saved = torch.load(tmp_path / "attributions.pt", weights_only=True)
    x = torch.from_numpy(np.load(data / "data.npz")["x"])
    w = linear()[1].weight.detach()
    targets = torch.tensor([0, 1, 2, 0, 1, 2])
    assert torch.equal(saved["targets"], targets)
    # closed forms on a linear model: Saliency = |W_t|, IG from a zero baseline = W_t * x
    torch.testing.assert_close(saved["attributions"]["Saliency"], w[targets].abs().reshape(6, 1, 4, 4))
    torch.testing.assert_close(saved["attributions"]["IntegratedGradients"],
                               (w[targets] * x.flatten(1)).reshape(6, 1, 4, 4),
                               rtol=1e-4, atol=1e-5)
    assert (tmp_path / "attributions.png").read_bytes()[:4] == b"\x89PNG"


def test_evaluate_prints_the_table_and_writes_json(data: Path, tmp_path: Path) -> None:
    result = veracity("evaluate", "--model", MODEL, "--data", str(data / "x.npy"), "--method", "Saliency",
                      "--method", "InputXGradient", "--metric", "sparseness", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "| method" in result.stdout and "sparseness ↑" in result.stdout
    cells = json.loads((tmp_path / "evaluation.json").read_text())
    assert [(c["method"], c["metric"]) for c in cells] == [("Saliency", "sparseness"), ("InputXGradient", "sparseness")]
    assert all(c["low"] <= c["mean"] <= c["high"] and c["count"] == 5 for c in cells)


def test_report_writes_html_and_json(data: Path, tmp_path: Path) -> None:
    result = veracity("report", "--model", MODEL, "--data", str(data / "data.npz"), "--method", "Saliency",
                      "--out", str(tmp_path / "r"), "--example", "4", "--example", "1")
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert [m["name"] for m in report["methods"]] == ["Saliency"] and report["data"]["n_examples"] == 6
    assert [e["index"] for e in report["examples"]] == [4, 1]
    assert "randomisation sanity check (|maps|):" in result.stdout
    assert (tmp_path / "r" / "report.html").read_text().startswith("<!DOCTYPE html>")


@pytest.mark.parametrize("args, code, message", [
    (("explain", "--model", "no_such_module:f", "--data", "digits"), 1, "cannot import module 'no_such_module'"),
    (("explain", "--model", "tests.cli.models:not_a_model", "--data", "digits"), 1, "expected a torch.nn.Module"),
    (("explain", "--model", "nocolon", "--data", "digits"), 1, "expected 'module:function'"),
    (("explain", "--model", MODEL, "--data", "missing.npy"), 1, "no file 'missing.npy'"),
    (("explain", "--model", MODEL, "--data", "digits"), 1, "the model fails on the data"),
    (("explain", "--model", MODEL, "--data", "DATA", "--method", "Salency"), 2, "did you mean Saliency"),
    (("explain", "--model", MODEL, "--data", "DATA", "--target", "7"), 1, "class 7 is outside 0..2"),
    (("explain", "--model", MODEL, "--data", "DATA", "--weights", "missing.pt"), 1, "--weights: no file"),
    (("evaluate", "--model", MODEL, "--data", "DATA", "--metric", "nope"), 1, "unknown metric 'nope'"),
    (("explain", "--data", "digits"), 2, "Missing option '--model'"),
    (("serve",), 2, "give --demo, or --model and --data"),
    (("frobnicate",), 2, "No such command"),
])
def test_errors_give_exit_codes_and_messages_without_tracebacks(data: Path, args: tuple[str, ...], code: int,
                                                                  message: str) -> None:
    """In process (Click's runner) for speed; the subprocess test below checks the same path."""
    from click.testing import CliRunner

    from veracity.cli.commands import cli

    args = tuple(str(data / "data.npz") if a == "DATA" else a for a in args)
    result = CliRunner().invoke(cli, list(args), prog_name="veracity")
    assert result.exit_code == code, (result.output, result.exception)
    assert message in result.stderr and "Traceback" not in result.stderr


def test_errors_in_a_subprocess() -> None:
    result = veracity("explain", "--model", "no_such_module:f", "--data", "digits")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("Error: --model: cannot import module 'no_such_module'")
    assert "Traceback" not in result.stderr
    usage = veracity("explain", "--data", "digits")
    assert usage.returncode == 2 and "Missing option '--model'" in usage.stderr


def test_serve_answers_on_127_0_0_1_and_refuses_open_binds_without_token(data: Path) -> None:
    pytest.importorskip("starlette")
    pytest.importorskip("uvicorn")
    import socket
    import time
    import urllib.request

    refused = veracity("serve", "--model", MODEL, "--data", str(data / "data.npz"), "--host", "0.0.0.0")
    assert refused.returncode == 1 and "needs a token" in refused.stderr and "Traceback" not in refused.stderr
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    server = subprocess.Popen([sys.executable, "-m", "veracity.cli", "serve", "--model", MODEL, "--data",
                               str(data / "data.npz"), "--port", str(port)], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline, config = time.monotonic() + 90, None
        while config is None and time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/config", timeout=5) as response:
                    config = json.loads(response.read())
            except OSError:
                time.sleep(0.3)
        assert config is not None, server.stderr.read() if server.poll() is not None else "no answer"
        assert config["n_examples"] == 6 and config["classes"] == ["0", "1", "2"]
    finally:
        server.terminate()
        server.wait(timeout=20)
