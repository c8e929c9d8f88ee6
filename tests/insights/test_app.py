"""The Insights app's API: results equal the library's on closed forms, filters work, and the
security rules hold (local bind or token, size limits, 4xx with a message, no traceback)."""

from __future__ import annotations

from typing import Any

import pytest
import torch

pytest.importorskip("starlette")
pytest.importorskip("httpx")

from starlette.testclient import TestClient  # noqa: E402

from tests.insights.conftest import CLASSES, EVIL_CLASS, dataset, linear_model, visualizer  # noqa: E402
from veracity.insights import AttributionVisualizer, Batch, GeneralFeature, ImageFeature, TextFeature  # noqa: E402
from veracity.insights.server import check_bind  # noqa: E402

TOKEN = "s3cret-token-123"


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(visualizer().app(), raise_server_exceptions=False)


def test_config_lists_methods_classes_and_checks(client: TestClient) -> None:
    config = client.get("/api/config").json()
    assert config["classes"] == CLASSES and config["n_examples"] == 12
    assert {"Saliency", "IntegratedGradients", "DeepLift", "GradientShap"} <= {m["name"] for m in config["methods"]}
    assert {c["metric"] for c in config["checks"]} == {"mprt_spearman_abs", "faithfulness_correlation",
                                                       "max_sensitivity"}


def test_examples_are_filtered_by_true_and_predicted_class(client: TestClient) -> None:
    x, y = dataset()
    predicted = linear_model()(x).argmax(1)
    both = client.get("/api/examples?true=2&predicted=" + str(int(predicted[2]))).json()
    expected = [i for i in range(12) if y[i] == 2 and predicted[i] == predicted[2]]
    assert [e["id"] for e in both["examples"]] == expected and both["total"] == len(expected)
    page = client.get("/api/examples?offset=5&limit=3").json()
    assert [e["id"] for e in page["examples"]] == [5, 6, 7] and page["total"] == 12
    assert page["examples"][0]["label_name"] == CLASSES[int(y[5])]  # raw in JSON; the page shows it as text
    assert len(page["examples"][0]["features"][0]["pixels"]) == 4


def test_attributions_are_the_closed_forms(client: TestClient) -> None:
    x, _ = dataset()
    w = linear_model()[1].weight.detach().double()
    body = {"example": 4, "target": 1, "methods": [{"name": "Saliency", "args": {"abs": False}},
                                                     {"name": "IntegratedGradients", "args": {"n_steps": 16}}]}
    result = client.post("/api/attribute", json=body).json()
    assert result["target"] == 1 and result["target_name"] == "one"
    saliency, ig = (torch.tensor(r["features"][0]["attribution"], dtype=torch.float64) for r in result["results"])
    torch.testing.assert_close(saliency, w[1].reshape(4, 4), atol=1e-5, rtol=0)
    torch.testing.assert_close(ig, (w[1] * x[4].double().flatten()).reshape(4, 4), atol=1e-4, rtol=0)
    scores = {s["metric"]: s for s in result["results"][1]["scores"]}
    assert set(scores) == {"sparseness", "faithfulness_correlation", "max_sensitivity", "mprt_spearman_abs"}
    assert scores["max_sensitivity"]["verdict"] in ("pass", "fail") and scores["max_sensitivity"]["threshold"] == 0.5
    # default target: the true label (Captum's use_label_for_attr=True), else the predicted class
    default = client.post("/api/attribute", json={"example": 4, "methods": [{"name": "InputXGradient"}]}).json()
    assert default["target"] == default["label"] == 1
    predicted = visualizer(use_label_for_attr=False).explorer.attribute(4, [{"name": "InputXGradient"}])
    assert predicted["target"] == int(linear_model()(x[4:5]).argmax())


def test_render_serves_in_the_background() -> None:
    import json
    import urllib.request

    viz = visualizer()
    url = viz.render()
    try:
        assert isinstance(url, str) and url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url + "api/config", timeout=10) as response:
            assert json.loads(response.read())["classes"] == CLASSES
    finally:
        viz.stop()


@pytest.mark.parametrize("body, message", [
    (b"{", "not valid JSON"),
    (b"[1]", "expected a JSON object"),
    (b'{"example": 0, "methods": [{"name": "Saliency"}], "extra": 1}', "unknown field 'extra'"),
    (b'{"example": 12, "methods": [{"name": "Saliency"}]}', "example: expected an index in 0..11"),
    (b'{"example": "0", "methods": [{"name": "Saliency"}]}', "example: expected an index"),
    (b'{"example": 0, "methods": []}', "methods: expected a list of 1 to"),
    (b'{"example": 0, "methods": [{"name": "<b>x</b>"}]}', "unknown method '<b>x</b>'"),
    (b'{"example": 0, "methods": [{"name": "IntegratedGradients", "args": {"n_steps": 100000}}]}',
     "IntegratedGradients.n_steps: expected a value in [2, 512]"),
    (b'{"example": 0, "methods": [{"name": "IntegratedGradients", "args": {"steps": 3}}]}', "unknown argument 'steps'"),
    (b'{"example": 0, "methods": [{"name": "IntegratedGradients", "args": {"n_steps": 1e400}}]}',
     "IntegratedGradients.n_steps: expected an integer, got inf"),
    (b'{"example": 0, "methods": [{"name": "GradientShap", "args": {"stdevs": NaN}}]}',
     "GradientShap.stdevs: expected a number, got nan"),
    (b'{"example": 0, "methods": [{"name": "IntegratedGradients", "args": {"n_steps": 2.5}}]}',
     "expected an integer, got 2.5"),
    (b'{"example": 0, "methods": [{"name": "Saliency", "args": {"abs": "yes"}}]}',
     "Saliency.abs: expected true or false"),
    (b'{"example": 0, "methods": [{"name": "Saliency"}], "target": 3}', "target: expected a class index in 0..2"),
])
def test_malformed_requests_get_400_with_a_message(client: TestClient, body: bytes, message: str) -> None:
    response = client.post("/api/attribute", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert message in response.json()["error"] and "Traceback" not in response.text


def test_other_bad_requests(client: TestClient) -> None:
    assert client.post("/api/attribute", content=b"{}", headers={"content-type": "text/plain"}).status_code == 415
    assert client.get("/api/attribute").status_code == 405
    missing = client.get("/api/nothing")
    assert missing.status_code == 404 and missing.json()["error"]
    assert client.get("/api/examples?true=abc").status_code == 400
    assert client.get("/api/examples?limit=100000").status_code == 400
    assert client.get("/", headers={"host": "attacker.example"}).status_code == 400  # DNS rebinding


def test_oversized_bodies_get_413(client: TestClient) -> None:
    big = b'{"example": 0, "methods": [], "pad": "' + b"x" * 70000 + b'"}'
    response = client.post("/api/attribute", content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413 and "limit" in response.json()["error"]

    def chunks() -> Any:  # no content-length: the limit applies while reading
        for _ in range(20):
            yield b"x" * 8192
    streamed = client.post("/api/attribute", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413


def test_non_local_binds_need_a_token() -> None:
    for host in ("0.0.0.0", "192.168.1.10", "::"):
        with pytest.raises(ValueError, match="`token`"):
            check_bind(host, None)
        with pytest.raises(ValueError, match="`token`"):
            visualizer().serve(host=host, blocking=False)
    with pytest.raises(ValueError, match="8 characters"):
        check_bind("0.0.0.0", "short")
    check_bind("127.0.0.1", None)
    check_bind("0.0.0.0", TOKEN)


def test_token_is_required_when_set() -> None:
    client = TestClient(visualizer().app(token=TOKEN, host="0.0.0.0"))
    assert client.get("/api/config").status_code == 401
    assert client.get("/api/config", headers={"x-veracity-token": "wrong-token-456"}).status_code == 401
    assert client.get("/api/config", headers={"x-veracity-token": TOKEN}).status_code == 200
    assert client.get(f"/?token={TOKEN}").status_code == 200
    assert client.get("/static/app.js").status_code == 200  # code, no data


def test_page_is_static_with_a_strict_policy(client: TestClient) -> None:
    page = client.get("/")
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "<script>" not in page.text and "http" not in page.text  # no inline script, nothing remote
    script = client.get("/static/app.js").text
    assert "innerHTML" not in script and "eval(" not in script and "textContent" in script


def test_failures_answer_500_without_a_traceback() -> None:
    class Broken(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = torch.nn.Linear(16, 3)
            self.calls = 0

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            self.calls += 1
            if self.calls > 1:
                raise RuntimeError("secret internal detail")
            return self.linear(x.flatten(1))

    x, y = dataset()
    app = AttributionVisualizer(Broken(), CLASSES, ImageFeature("image"), [Batch(x, y)]).app()
    response = TestClient(app, raise_server_exceptions=False).post(
        "/api/attribute", json={"example": 0, "methods": [{"name": "Saliency"}]})
    assert response.status_code == 500 and "RuntimeError" in response.json()["error"]
    assert "secret internal detail" not in response.text and "Traceback" not in response.text


def test_text_and_general_features() -> None:
    general = GeneralFeature("tabular", ["a", "b", "c"])
    model = torch.nn.Linear(3, 2)
    viz = AttributionVisualizer(model, ["n", "y"], [general], [Batch(torch.rand(4, 3), torch.tensor([0, 1, 0, 1]))])
    result = viz.explorer.attribute(1, [{"name": "Saliency", "args": {"abs": False}}], target=1)
    shown = result["results"][0]["features"][0]
    assert shown["categories"] == ["a", "b", "c"]
    torch.testing.assert_close(torch.tensor(shown["attribution"], dtype=torch.float64),
                               model.weight[1].detach().double(), atol=1e-5, rtol=0)
    text = TextFeature("words", None, None, lambda x: [f"w{i}" for i in range(x.shape[0])])
    seen = text.visualize(torch.ones(3, 2), torch.rand(3, 2))
    assert seen["tokens"] == ["w0", "w1", "w2"] and seen["attribution"] == [2.0, 2.0, 2.0]


def test_bad_constructor_arguments() -> None:
    x, y = dataset()
    with pytest.raises(TypeError, match="`features`"):
        AttributionVisualizer(linear_model(), CLASSES, ["image"], [Batch(x, y)])
    with pytest.raises(TypeError, match="`dataset`"):
        AttributionVisualizer(linear_model(), CLASSES, [ImageFeature("i")], [(x, y)])
    with pytest.raises(ValueError, match="additional_args"):
        AttributionVisualizer(linear_model(), CLASSES, [ImageFeature("i")], [Batch(x, y, additional_args=(1,))])
    with pytest.raises(TypeError, match="`classes`"):
        AttributionVisualizer(linear_model(), "abc", [ImageFeature("i")], [Batch(x, y)])
    assert EVIL_CLASS in CLASSES
