"""Run every benchmark script in this folder (``make bench``)."""

from __future__ import annotations

import pathlib
import subprocess
import sys

here = pathlib.Path(__file__).parent
for script in sorted(here.glob("bench_*.py")):
    print(f"\n## {script.name}", flush=True)
    subprocess.run([sys.executable, str(script)], check=False)
