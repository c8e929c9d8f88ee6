"""Run every benchmark script in this folder (``make bench``)."""

from __future__ import annotations

import pathlib
import subprocess
import sys

here = pathlib.Path(__file__).parent
anchors = here.parent / ".venv-anchors" / "bin" / "python"   # `make bench-anchors` builds it
for script in sorted(here.glob("bench_*.py")):
    if script.name == "bench_layer_gradcam.py":  # run by bench_layer.py in the anchors venv
        continue
    python = sys.executable
    if script.name == "bench_metrics_quantus.py":
        if not anchors.exists():
            print(f"\n## {script.name}: skipped (needs Quantus: `make bench-anchors`)", flush=True)
            continue
        python = str(anchors)
    print(f"\n## {script.name}", flush=True)
    subprocess.run([python, str(script)], check=False)
