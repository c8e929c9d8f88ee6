"""The main job's speed: the Insights app's attribution request on a digits example (limit 1 s)
and the trust report on 64 digits with the demo's 4 methods (limit 2 minutes on 2 cores).

No anchor: Captum Insights was retired after Captum 0.8 and Captum has no trust report. The
table gives each time and its ratio to the limit (limit / time: above 1 = within it).
``--quick``: a barely trained model, 8 digits, smaller method settings (a smoke test only).

    .venv/bin/python benchmarks/bench_app.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.request
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import print_table  # noqa: E402

from veracity import demo  # noqa: E402
from veracity.data import load_digits, train_digits_cnn  # noqa: E402
from veracity.insights import AttributionVisualizer, Batch, ImageFeature  # noqa: E402

REQUEST_LIMIT_S = 1.0
REPORT_LIMIT_S = 120.0


def request_times(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, quick: bool) -> list[dict[str, object]]:
    """Seconds per POST /api/attribute over real HTTP (uvicorn), best of 3 after one warm-up."""
    app = AttributionVisualizer(model, [str(d) for d in range(10)], [ImageFeature("digit")], [Batch(x, y)],
                                score_func=lambda o: o.softmax(1))
    url = app.serve(port=None, blocking=False)
    rows = []
    steps = 16 if quick else 50
    requests = {"Saliency": [{"name": "Saliency"}],
                f"IntegratedGradients ({steps} steps)": [{"name": "IntegratedGradients", "args": {"n_steps": steps}}],
                "DeepLift": [{"name": "DeepLift"}],
                "GradientShap (20 samples)": [{"name": "GradientShap", "args": {"n_samples": 20}}],
                "all four side by side": [{"name": "Saliency"},
                                          {"name": "IntegratedGradients", "args": {"n_steps": steps}},
                                          {"name": "DeepLift"}, {"name": "GradientShap", "args": {"n_samples": 20}}]}
    try:
        for label, methods in requests.items():
            body = json.dumps({"example": 3, "methods": methods}).encode()

            def post(body: bytes = body) -> None:
                request = urllib.request.Request(url + "api/attribute", data=body,
                                                 headers={"content-type": "application/json"})
                with urllib.request.urlopen(request, timeout=60) as response:
                    assert response.status == 200
                    json.loads(response.read())
            post()
            best = float("inf")
            for _ in range(3):
                start = time.perf_counter()
                post()
                best = min(best, time.perf_counter() - start)
            rows.append({"task": f"app: attribute + 4 checks, {label}", "veracity s": best,
                         "cpu s (all threads)": None, "limit s": REQUEST_LIMIT_S,
                         "limit / veracity": REQUEST_LIMIT_S / best})
    finally:
        app.stop()
    return rows


def report_time(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, background: torch.Tensor,
                quick: bool) -> dict[str, object]:
    """Seconds for the trust report (grid + randomisation + figures + files), run once."""
    import tempfile

    start, cpu = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory() as folder:
        demo.trust_report(model, x, y, background, Path(folder))
    seconds = time.perf_counter() - start
    return {"task": f"trust report, {len(x)} digits x 4 methods (demo settings{', reduced' if quick else ''})",
            "veracity s": seconds, "cpu s (all threads)": time.process_time() - cpu, "limit s": REPORT_LIMIT_S,
            "limit / veracity": REPORT_LIMIT_S / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks that the script runs")
    quick = parser.parse_args().quick
    if quick:
        demo.IG_STEPS, demo.SHAP_SAMPLES = 8, 16
    torch.manual_seed(0)
    data = load_digits(seed=0)
    model = train_digits_cnn(data, seed=0, epochs=2 if quick else 30)
    n = 8 if quick else 64
    background = data.train_x[torch.randperm(len(data.train_y), generator=torch.Generator().manual_seed(0))[:32]]
    rows = request_times(model, data.test_x[:200], data.test_y[:200], quick)
    rows.append(report_time(model, data.test_x[:n], data.test_y[:n], background, quick))
    print_table(f"main job: app latency and trust report (torch threads: {torch.get_num_threads()})", rows)


if __name__ == "__main__":
    main()
