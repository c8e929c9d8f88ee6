"""Two processes under torchrun (gloo on CPU) write byte for byte the store of one process: an
evaluation from scratch, and the attributions of a store one process left half done (uneven
shares: a rank idles a round)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist

pytest.importorskip("zarr")

import veracity.attr as va  # noqa: E402
from tests.dataset.test_attribute_dataset import Counting, data  # noqa: E402
from veracity.dataset import attribute_dataset, evaluate_dataset, open_store  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ATTRIBUTE = dict(batch_size=2, chunk_size=3, show_progress=False, n_steps=4)  # 10 examples: 4 chunks
EVALUATE = dict(batch_size=2, chunk_size=3, show_progress=False)
METHODS = {"ig": va.IntegratedGradients, "ixg": va.InputXGradient}
METRICS = ["sparseness", ("max_sensitivity", {"n_samples": 3}),
           ("faithfulness_correlation", {"subset_size": 2, "nr_runs": 5})]

WORKER = r"""
import faulthandler, sys
faulthandler.dump_traceback_later(100, exit=True)  # a hung collective fails the test
sys.path.insert(0, {root!r})
import torch
torch.set_num_threads(1)
import torch.distributed as dist
import veracity.attr as va
from tests.dataset.test_distributed import ATTRIBUTE, EVALUATE, METHODS, METRICS
from tests.dataset.test_attribute_dataset import Counting, data
from veracity.dataset import attribute_dataset, evaluate_dataset

assert not dist.is_initialized()
attribute_dataset(va.IntegratedGradients(Counting()), data(), {attributions!r}, **ATTRIBUTE)
assert dist.is_initialized() and dist.get_world_size() == 2  # started from torchrun's environment, kept
evaluate_dataset(Counting(), data(), METHODS, METRICS, {evaluation!r}, **EVALUATE)

class Broken(torch.utils.data.Dataset):  # example 8 (chunk 2: rank 0, round 2) cannot be read
    def __len__(self):
        return 10

    def __getitem__(self, i):
        if i == 8:
            raise OSError("example 8 is unreadable")
        return data()[i]

try:
    attribute_dataset(va.IntegratedGradients(Counting()), Broken(), {broken!r}, **ATTRIBUTE)
except Exception as error:
    print(f"rank {{dist.get_rank()}} raised {{type(error).__name__}}: {{error}}", flush=True)
"""


def stores_equal(a: Path, b: Path) -> None:
    one, two = open_store(a, verify=True), open_store(b, verify=True)
    assert one.complete and two.complete
    assert one.manifest == two.manifest
    assert json.loads((a / "manifest.json").read_text()) == json.loads((b / "manifest.json").read_text())
    for name in one.manifest["arrays"]:
        assert one.numpy(name).tobytes() == two.numpy(name).tobytes(), name


def torchrun(script: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    for key in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                           str(script)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=150)


@pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(), reason="needs torch.distributed gloo")
def test_two_processes_write_the_store_of_one(tmp_path: Path) -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each rank: the bits of a parallel reduction depend on the thread count
    try:
        attribute_dataset(va.IntegratedGradients(Counting()), data(), tmp_path / "one_a", **ATTRIBUTE)
        evaluate_dataset(Counting(), data(), METHODS, METRICS, tmp_path / "one_e", **EVALUATE)
    finally:
        torch.set_num_threads(threads)
    # a store one process left half done: chunk 0 complete, chunk 1's rows garbage, chunks 2, 3 never written
    shutil.copytree(tmp_path / "one_a", tmp_path / "two_a")
    manifest = json.loads((tmp_path / "two_a" / "manifest.json").read_text())
    manifest.update(complete=[0], checksums={"0": manifest["checksums"]["0"]})
    (tmp_path / "two_a" / "manifest.json").write_text(json.dumps(manifest))
    import zarr

    zarr.open_array(store=str(tmp_path / "two_a" / "attributions"), mode="r+")[3:10] = 99.0
    script = tmp_path / "worker.py"
    script.write_text(WORKER.format(root=str(ROOT), attributions=str(tmp_path / "two_a"),
                                    evaluation=str(tmp_path / "two_e"), broken=str(tmp_path / "broken")))
    done = torchrun(script)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # the resume (chunks 1, 3 on rank 0; chunk 2 on rank 1, idle in round 2) and the fresh evaluation
    stores_equal(tmp_path / "one_a", tmp_path / "two_a")
    stores_equal(tmp_path / "one_e", tmp_path / "two_e")
    np.testing.assert_array_equal(open_store(tmp_path / "two_e").numpy("targets"), data().tensors[1].numpy())
    # a failure on one rank: every rank raises (none hangs), the chunks of the round before are committed
    assert "rank 0 raised OSError: example 8 is unreadable" in done.stdout, done.stdout
    assert "rank 1 raised RuntimeError: rank 0 failed on chunk 2: OSError('example 8 is unreadable')" in done.stdout
    assert open_store(tmp_path / "broken", verify=True).manifest["complete"] == [0, 1]
