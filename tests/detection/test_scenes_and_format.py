"""The detector contract (clear errors), post-processing, the scenes generator, training,
merging, the in-box mass and the figure."""

from __future__ import annotations

import pytest
import torch

from veracity.attr import Saliency
from veracity.detection import (
    Detections,
    DetectorOutputs,
    TinyDetector,
    box_iou,
    box_masks,
    box_mass_fraction,
    detect,
    explain_detections,
    make_scenes,
    merge_maps,
    non_maximum_suppression,
    train_tiny_detector,
    training_targets,
)


def _returning(output):
    return lambda x: output


@pytest.mark.parametrize(("output", "shown"), [
    (torch.zeros(2, 5, 8), "one tensor of shape (2, 5, 8)"),
    ((torch.zeros(2, 5, 5), torch.zeros(2, 5, 3)), "a tuple of 2 with shapes ((2, 5, 5), (2, 5, 3))"),
    ((torch.zeros(2, 5, 4), torch.zeros(2, 6, 3)), "a tuple of 2 with shapes ((2, 5, 4), (2, 6, 3))"),
    ((torch.zeros(3, 5, 4), torch.zeros(3, 5, 3)), "a tuple of 2 with shapes ((3, 5, 4), (3, 5, 3))"),
    ((torch.zeros(2, 20), torch.zeros(2, 5)), "a tuple of 2 with shapes ((2, 20), (2, 5))"),
    ([{"boxes": torch.zeros(5, 4), "scores": torch.zeros(5), "labels": torch.zeros(5)}] * 2, "a list of 2"),
    ({"boxes": torch.zeros(2, 5, 4), "logits": torch.zeros(2, 5, 3)}, "'logits': (2, 5, 3)"),
])
def test_an_output_outside_the_contract_names_the_detector_and_its_shapes(output, shown) -> None:
    with pytest.raises((TypeError, ValueError)) as error:
        DetectorOutputs(_returning(output))(torch.zeros(2, 1, 4, 4))
    message = str(error.value)
    assert message.startswith("`detector`: expected a dense (pre-NMS) head") and shown in message, message
    with pytest.raises((TypeError, ValueError), match="`detector`"):
        detect(_returning(output), torch.zeros(2, 1, 4, 4))


def test_a_method_over_the_raw_detector_and_mismatched_detections_are_refused() -> None:
    detector = TinyDetector(canvas=16, width=2).eval()
    found = [Detections.of([[0.0, 0, 4, 4]], labels=[1], slots=[0])]
    with pytest.raises(TypeError, match="`method`: expected an attribution method built on DetectorOutputs"):
        explain_detections(Saliency(detector), torch.zeros(1, 1, 16, 16), found)
    with pytest.raises(TypeError, match=r"`detections`: expected one Detections per image \(2\)"):
        explain_detections(Saliency(DetectorOutputs(detector)), torch.zeros(2, 1, 16, 16), found)
    with pytest.raises(ValueError, match="`quantities`"):
        explain_detections(Saliency(DetectorOutputs(detector)), torch.zeros(1, 1, 16, 16), found, quantities=("w",))
    with pytest.raises(ValueError, match=r"`images`: expected images shaped \(batch, 1, 16, 16\)"):
        detect(detector, torch.zeros(1, 1, 8, 8))


def test_detect_keeps_the_best_class_per_slot_above_threshold_after_nms() -> None:
    boxes = torch.tensor([[[0.0, 0, 4, 4], [0.5, 0, 4.5, 4], [0.0, 0, 4, 4], [10, 10, 14, 14]]])
    scores = torch.tensor([[[0.1, 0.8], [0.2, 0.9], [0.7, 0.1], [0.3, 0.2]]])
    (found,) = detect(_returning({"boxes": boxes, "scores": scores}), torch.zeros(1, 1, 4, 4),
                      score_threshold=0.5, iou_threshold=0.5)
    # slot 1 (class 1, 0.9) suppresses slot 0 (class 1, IoU 0.78); slot 2 is class 0: kept; slot 3 below
    assert found.slots.tolist() == [1, 2] and found.labels.tolist() == [1, 0]
    torch.testing.assert_close(found.scores, torch.tensor([0.9, 0.7]))
    assert torch.equal(found.boxes, boxes[0, [1, 2]])
    keep = non_maximum_suppression(boxes[0], torch.tensor([0.1, 0.9, 0.7, 0.3]), torch.zeros(4, dtype=torch.long))
    assert keep.tolist() == [1, 3]


def test_box_iou_and_masks_closed_forms() -> None:
    a = torch.tensor([[0.0, 0, 4, 2]])
    b = torch.tensor([[2.0, 0, 6, 2], [5.0, 5, 6, 6], [0.0, 0, 4, 2]])
    torch.testing.assert_close(box_iou(a, b), torch.tensor([[4 / 12, 0.0, 1.0]]))
    mask = box_masks(torch.tensor([[1.0, 2.0, 3.0, 4.0]]), 5, 5)[0]
    assert mask.nonzero().tolist() == [[2, 1], [2, 2], [3, 1], [3, 2]]


def test_scenes_are_seeded_and_their_boxes_match_their_drawing() -> None:
    scenes = make_scenes(20, canvas=32, seed=5)
    again = make_scenes(20, canvas=32, seed=5)
    other = make_scenes(3, canvas=32, seed=6)
    assert torch.equal(scenes.images, again.images) and not torch.equal(scenes.images[:3], other.images)
    assert all(torch.equal(a, b) for a, b in zip(scenes.boxes, again.boxes))
    assert all(torch.equal(a, b) for a, b in zip(scenes.labels, again.labels))
    counts = [len(b) for b in scenes.boxes]
    assert min(counts) >= 1 and max(counts) <= 3 and len(set(counts)) == 3
    for image, boxes, labels in zip(scenes.images, scenes.boxes, scenes.labels):
        ink = image[0] > 0
        masks = box_masks(boxes, 32, 32)
        assert torch.equal(ink & ~masks.any(0), torch.zeros_like(ink))  # all ink inside some box
        assert int(masks.sum(0).max()) == 1  # boxes are disjoint
        assert labels.dtype == torch.long and bool(((labels >= 0) & (labels <= 9)).all())
        for x1, y1, x2, y2 in boxes.long().tolist():  # tight: ink on every edge of the box
            crop = ink[y1:y2, x1:x2]
            assert crop[0].any() and crop[-1].any() and crop[:, 0].any() and crop[:, -1].any()
    with pytest.raises(ValueError, match="`split`"):
        make_scenes(2, split="valid")


def test_training_targets_and_training_are_reproducible() -> None:
    scenes = make_scenes(32, canvas=16, sizes=(6,), objects=(1, 2), seed=2)
    model = TinyDetector(canvas=16, width=2)
    classes, distances = training_targets(model, scenes)
    assert int((classes < 10).sum()) == sum(len(b) for b in scenes.boxes)
    for i, boxes in enumerate(scenes.boxes):  # the assigned distances decode back to the boxes
        for cell in (classes[i] < 10).nonzero().flatten().tolist():
            centre = model.centres[cell]
            decoded = torch.cat([centre - 4 * distances[i, cell, :2], centre + 4 * distances[i, cell, 2:]])
            assert any(torch.allclose(decoded, b) for b in boxes)
    state = torch.get_rng_state()
    first = train_tiny_detector(scenes, epochs=1, seed=4, width=2)
    second = train_tiny_detector(scenes, epochs=1, seed=4, width=2)
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(a, b) for a, b in zip(first.parameters(), second.parameters()))


def test_box_mass_fraction_and_merges_closed_forms() -> None:
    found = [Detections.of([[0.0, 0.0, 2.0, 2.0]], labels=[0], slots=[0])]
    maps = torch.zeros(1, 2, 1, 4, 4)
    maps[0, 0, 0, :2, :2] = 1.0  # all mass inside
    maps[0, 1, 0, 0, 0], maps[0, 1, 0, 3, 3] = -1.0, 3.0  # a quarter inside (absolute values)
    assert box_mass_fraction([maps], found)[0].tolist() == [[1.0, 0.25]]
    stack = torch.tensor([[1.0, 0.0, 2.0], [3.0, 1.0, 1.0]])
    torch.testing.assert_close(merge_maps(stack, "or_add"), torch.tensor([1.0, 0.0, 2 / 3]))
    assert merge_maps(stack, "and_average").tolist() == [1.0, 0.0, 0.75]
    with pytest.raises(ValueError, match="`how`"):
        merge_maps(stack, "pca")


def test_figure_has_an_overview_and_one_panel_per_detection_and_quantity(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    from veracity.detection import plot_detection_explanations

    found = Detections.of([[1.0, 1, 5, 6], [8.0, 8, 12, 12]], labels=[2, 7], slots=[0, 3], scores=[0.9, 0.6])
    fig = plot_detection_explanations(torch.rand(1, 16, 16), found, torch.rand(2, 3, 1, 16, 16),
                                      quantities=("score", "x1", "y2"), path=tmp_path / "f.png")
    assert len(fig.axes) == 1 + 2 * 3 and (tmp_path / "f.png").stat().st_size > 0
    assert len(fig.axes[0].patches) == 2 and all(len(ax.patches) == 1 for ax in fig.axes[1:])
    with pytest.raises(ValueError, match="`maps`"):
        plot_detection_explanations(torch.rand(1, 16, 16), found, torch.rand(2, 5, 1, 16, 16),
                                    quantities=("score",))
