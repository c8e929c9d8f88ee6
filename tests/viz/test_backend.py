"""matplotlib stays optional: the core imports without it, and headless runs get Agg."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def _run(code: str, **env: str) -> str:
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("DISPLAY", "WAYLAND_DISPLAY", "MPLBACKEND")}
    environment.update(env)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=environment, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_core_imports_without_matplotlib_and_viz_says_what_to_install() -> None:
    out = _run(
        "import sys\n"
        "sys.modules['matplotlib'] = None\n"
        "import veracity, veracity.attr, veracity.metrics, veracity.viz, veracity.demo\n"
        "import torch\n"
        "try:\n"
        "    veracity.viz.visualize_image_attr(torch.ones(1, 2, 2), use_pyplot=False)\n"
        "except ImportError as error:\n"
        "    print(error)\n"
    )
    assert "veracity.viz needs matplotlib" in out


def test_importing_viz_does_not_import_matplotlib() -> None:
    assert _run("import sys, veracity.viz; print('matplotlib' in sys.modules)") == "False"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="display detection is for Linux")
def test_headless_gets_agg_and_an_explicit_backend_wins() -> None:
    pytest.importorskip("matplotlib")
    code = "from veracity.viz._mpl import pyplot; print(pyplot().get_backend().lower())"
    assert _run(code) == "agg"
    assert _run(code, MPLBACKEND="svg") == "svg"
