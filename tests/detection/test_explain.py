"""Detector explanations: exact invariants on the tiny detector (float64) and closed forms on a
linear detector."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from veracity.attr import (
    FeatureAblation,
    InputXGradient,
    IntegratedGradients,
    NoiseTunnel,
    Occlusion,
    Saliency,
)
from veracity.detection import (
    QUANTITIES,
    Detections,
    DetectorOutputs,
    TinyDetector,
    detection_targets,
    explain_detections,
)

SLOTS, CLASSES, SIDE = 3, 4, 5


class LinearDetector(nn.Module):
    """boxes = x W_b + c_b, scores = x W_s + c_s: every slot's quantity is linear in the image."""

    def __init__(self) -> None:
        super().__init__()
        self.boxes = nn.Linear(SIDE * SIDE, SLOTS * 4).double()
        self.scores = nn.Linear(SIDE * SIDE, SLOTS * CLASSES).double()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        flat = x.flatten(1)
        return self.boxes(flat).view(-1, SLOTS, 4), self.scores(flat).view(-1, SLOTS, CLASSES)

    def weight(self, slot: int, column: int) -> torch.Tensor:
        """The weight row of ``(slot, column)`` as an image ``(1, SIDE, SIDE)``."""
        if column < 4:
            row = self.boxes.weight[slot * 4 + column]
        else:
            row = self.scores.weight[slot * CLASSES + column - 4]
        return row.detach().view(1, SIDE, SIDE)


def _found() -> list[Detections]:
    return [Detections.of([[0.0, 0, 2, 2], [1.0, 1, 4, 4]], labels=[2, 0], slots=[0, 2]),
            Detections.of([[1.0, 0, 3, 3]], labels=[3], slots=[1])]


def _weights(model: LinearDetector, found: list[Detections]) -> list[torch.Tensor]:
    return [torch.stack([torch.stack([model.weight(s, c) for s, c in detection_targets(d)[q::len(QUANTITIES)]])
                         for q in range(len(QUANTITIES))], 1) for d in found]


@pytest.fixture
def linear() -> LinearDetector:
    return LinearDetector().eval()


@pytest.fixture
def images() -> torch.Tensor:
    return torch.rand(2, 1, SIDE, SIDE, dtype=torch.float64)


def test_saliency_of_a_linear_detector_is_its_weight_row(linear, images) -> None:
    found = _found()
    maps = explain_detections(Saliency(DetectorOutputs(linear)), images, found, abs=False)
    for got, expected in zip(maps, _weights(linear, found)):
        assert got.shape == (expected.shape[0], 5, 1, SIDE, SIDE)
        assert torch.equal(got, expected)


@pytest.mark.parametrize("method", ["InputXGradient", "IntegratedGradients", "Occlusion", "FeatureAblation"])
def test_linear_detector_closed_form_input_times_weight(linear, images, method) -> None:
    head = DetectorOutputs(linear)
    kwargs = {"Occlusion": {"sliding_window_shapes": (1, 1, 1)}, "IntegratedGradients": {"n_steps": 7}}.get(method, {})
    explainer = {"InputXGradient": InputXGradient, "IntegratedGradients": IntegratedGradients,
                 "Occlusion": Occlusion, "FeatureAblation": FeatureAblation}[method](head)
    found = _found()
    maps = explain_detections(explainer, images, found, **kwargs)
    for i, (got, weight) in enumerate(zip(maps, _weights(linear, found))):
        torch.testing.assert_close(got, weight * images[i], rtol=1e-12, atol=1e-12)


def _tiny() -> TinyDetector:
    torch.manual_seed(3)
    return TinyDetector(canvas=16, width=4).double().eval()


@pytest.mark.parametrize("column", range(6))
def test_saliency_of_a_box_coordinate_is_the_autograd_gradient(column) -> None:
    detector = _tiny()
    x = torch.rand(1, 1, 16, 16, dtype=torch.float64)
    slot = 5
    got = Saliency(DetectorOutputs(detector)).attribute(x, target=(slot, column), abs=False)
    leaf = x.clone().requires_grad_(True)
    boxes, scores = detector(leaf)
    value = boxes[0, slot, column] if column < 4 else scores[0, slot, column - 4]
    (expected,) = torch.autograd.grad(value, leaf)
    assert torch.equal(got, expected)


def test_every_detection_and_quantity_in_one_call_equals_its_own_gradient() -> None:
    detector = _tiny()
    images = torch.rand(2, 1, 16, 16, dtype=torch.float64)
    found = [Detections.of([[0.0, 0, 8, 8], [4.0, 4, 12, 12]], labels=[7, 1], slots=[0, 9]),
             Detections.of([[2.0, 2, 6, 9]], labels=[4], slots=[15])]
    maps = explain_detections(Saliency(DetectorOutputs(detector)), images, found, abs=False)
    for i, d in enumerate(found):
        leaf = images[i:i + 1].clone().requires_grad_(True)
        boxes, scores = detector(leaf)
        for j, (slot, label) in enumerate(zip(d.slots.tolist(), d.labels.tolist())):
            values = [scores[0, slot, label], *boxes[0, slot]]
            for q, value in enumerate(values):
                (expected,) = torch.autograd.grad(value, leaf, retain_graph=True)
                assert torch.equal(maps[i][j, q], expected[0]), (i, j, QUANTITIES[q])


class SmoothDetector(nn.Module):
    """A smooth two-layer detector (tanh, softplus box decoding, softmax scores): Gauss-Legendre IG
    converges to machine precision, so completeness can be checked exactly."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden = nn.Linear(SIDE * SIDE, 16).double()
        self.distances = nn.Linear(16, SLOTS * 4).double()
        self.logits = nn.Linear(16, SLOTS * (CLASSES + 1)).double()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = torch.tanh(self.hidden(x.flatten(1)))
        d = nn.functional.softplus(self.distances(h)).view(-1, SLOTS, 4)
        centre = torch.full_like(d[..., :2], SIDE / 2)
        scores = torch.softmax(self.logits(h).view(-1, SLOTS, CLASSES + 1), -1)[..., :CLASSES]
        return torch.cat([centre - d[..., :2], centre + d[..., 2:]], -1), scores


@pytest.mark.parametrize("column", [0, 1, 2, 3, 4 + 1])
def test_integrated_gradients_of_a_box_coordinate_is_complete(column) -> None:
    head = DetectorOutputs(SmoothDetector().eval())
    x = torch.rand(1, 1, SIDE, SIDE, dtype=torch.float64) * 3
    attributions, delta = IntegratedGradients(head).attribute(x, target=(2, column), n_steps=64,
                                                              return_convergence_delta=True)
    with torch.no_grad():
        change = float(head(x)[0, 2, column] - head(torch.zeros_like(x))[0, 2, column])
    assert abs(change) > 1e-4
    assert float(attributions.sum()) == pytest.approx(change, rel=1e-9, abs=1e-12)
    assert abs(float(delta)) < 1e-9 * max(abs(change), 1.0)


def test_integrated_gradients_on_the_relu_detector_converges_to_completeness() -> None:
    head = DetectorOutputs(_tiny())
    x = torch.rand(1, 1, 16, 16, dtype=torch.float64) * 4
    with torch.no_grad():
        change = float(head(x)[0, 7, 0] - head(torch.zeros_like(x))[0, 7, 0])
    gaps = [abs(float(IntegratedGradients(head).attribute(x, target=(7, 0), n_steps=n).sum()) - change)
            for n in (8, 256)]
    assert gaps[1] < 0.05 * abs(change) and gaps[1] < gaps[0], (gaps, change)


def test_occlusion_over_all_detections_at_once_equals_one_call_per_detection() -> None:
    detector = _tiny()
    images = torch.rand(2, 1, 16, 16, dtype=torch.float64)
    found = [Detections.of([[0.0, 0, 8, 8]], labels=[2], slots=[3]),
             Detections.of([[2.0, 2, 6, 9], [1.0, 1, 5, 5]], labels=[4, 0], slots=[15, 6])]
    occlusion = Occlusion(DetectorOutputs(detector))
    maps = explain_detections(occlusion, images, found, quantities=("score", "y2"),
                              sliding_window_shapes=(1, 4, 4), strides=(1, 3, 3))
    for i, d in enumerate(found):
        for j, (slot, column) in enumerate(detection_targets(d, ("score", "y2"))):
            alone = occlusion.attribute(images[i:i + 1], target=(slot, column), sliding_window_shapes=(1, 4, 4),
                                        strides=(1, 3, 3))
            torch.testing.assert_close(maps[i][j // 2, j % 2], alone[0], rtol=1e-12, atol=1e-12)


def test_noise_tunnel_and_per_image_baselines_pass_through(linear, images) -> None:
    found = _found()
    baselines = torch.rand_like(images)
    maps = explain_detections(IntegratedGradients(DetectorOutputs(linear)), images, found, baselines=baselines,
                              n_steps=3)
    for i, weight in enumerate(_weights(linear, found)):
        torch.testing.assert_close(maps[i], weight * (images[i] - baselines[i]), rtol=1e-12, atol=1e-12)
    smooth = explain_detections(NoiseTunnel(Saliency(DetectorOutputs(linear))), images, found, nt_samples=4,
                                abs=False, generator=torch.Generator().manual_seed(0))
    for got, weight in zip(smooth, _weights(linear, found)):  # a linear map's gradient ignores the noise
        torch.testing.assert_close(got, weight, rtol=1e-12, atol=1e-12)


def test_the_detector_is_left_as_it_was() -> None:
    detector = _tiny()
    state = copy.deepcopy(detector.state_dict())
    x = torch.rand(1, 1, 16, 16, dtype=torch.float64)
    explain_detections(IntegratedGradients(DetectorOutputs(detector)), x,
                       [Detections.of([[0.0, 0, 8, 8]], labels=[2], slots=[3])], n_steps=4)
    assert not detector.training and all(torch.equal(v, state[k]) for k, v in detector.state_dict().items())
    assert all(p.grad is None for p in detector.parameters())


def test_no_detections_give_empty_maps(linear, images) -> None:
    empty = Detections.of(torch.zeros(0, 4), labels=[], slots=[])
    maps = explain_detections(Saliency(DetectorOutputs(linear)), images, [empty, empty])
    assert [tuple(m.shape) for m in maps] == [(0, 5, 1, SIDE, SIDE)] * 2


def test_identical_rows_are_evaluated_once_without_gradients(images) -> None:
    linear = LinearDetector().eval()
    seen: list[int] = []

    class Counting(LinearDetector):
        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            seen.append(x.shape[0])
            return linear(x)

    counting = Counting().eval()
    found = _found()  # 3 detections x 5 quantities = 15 rows over 2 images
    occlusion = Occlusion(DetectorOutputs(counting))
    maps = explain_detections(occlusion, images, found, sliding_window_shapes=(1, 1, 1),
                              perturbations_per_eval=SIDE * SIDE + 1)
    assert max(seen) <= 2 * (SIDE * SIDE + 1)  # never more than the distinct rows: 2 images x windows
    plain = explain_detections(Occlusion(DetectorOutputs(linear, deduplicate=False)), images, found,
                               sliding_window_shapes=(1, 1, 1))
    for a, b in zip(maps, plain):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    handle = counting.boxes.register_forward_hook(lambda *args: None)  # a hook: every row is evaluated
    try:
        seen.clear()
        explain_detections(occlusion, images, found, sliding_window_shapes=(1, 1, 1),
                           perturbations_per_eval=SIDE * SIDE + 1)
        assert max(seen) == 15 * (SIDE * SIDE + 1)
    finally:
        handle.remove()


def test_convergence_deltas_and_layer_methods_come_back_per_image() -> None:
    from veracity.attr import LayerGradCam

    detector = _tiny()
    head = DetectorOutputs(detector)
    images = torch.rand(2, 1, 16, 16, dtype=torch.float64)
    found = [Detections.of([[0.0, 0, 8, 8]], labels=[2], slots=[3]),
             Detections.of([[2.0, 2, 6, 9], [1.0, 1, 5, 5]], labels=[4, 0], slots=[15, 6])]
    maps, deltas = explain_detections(IntegratedGradients(head), images, found, quantities=("x2", "score"),
                                      n_steps=16, return_convergence_delta=True)
    assert [tuple(d.shape) for d in deltas] == [(1, 2), (2, 2)]
    with torch.no_grad():
        for i, d in enumerate(found):
            for j, (slot, column) in enumerate(detection_targets(d, ("x2", "score"))):
                x = images[i:i + 1]
                change = head(x)[0, slot, column] - head(torch.zeros_like(x))[0, slot, column]
                gap = float(maps[i][j // 2, j % 2].sum() - change)
                assert gap == pytest.approx(float(deltas[i][j // 2, j % 2]), abs=1e-12)
    cams = explain_detections(LayerGradCam(head, detector.conv3), images, found, quantities=("score", "y1"))
    for i, d in enumerate(found):
        for j, (slot, column) in enumerate(detection_targets(d, ("score", "y1"))):
            alone = LayerGradCam(head, detector.conv3).attribute(images[i:i + 1], target=(slot, column))
            torch.testing.assert_close(cams[i][j // 2, j % 2], alone[0], rtol=1e-12, atol=1e-12)
