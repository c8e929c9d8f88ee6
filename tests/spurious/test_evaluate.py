"""KSSD / CCM / FAM of a method on models with closed-form maps; one batched call per model."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from veracity.attr import IntegratedGradients, LayerGradCam, Saliency
from veracity.data.digits import load_digits
from veracity.metrics.similarity import ssim
from veracity.spurious import (
    artifact_reliance,
    evaluate_methods,
    explain_with,
    markdown_table,
    plant_artifact,
    spurious_digits,
    spurious_signal_scores,
)


def linear_on(region: torch.Tensor) -> nn.Module:
    """Two logits; logit 0 = sum of the pixels of ``region`` (so its gradient is the region)."""
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 2, bias=False))
    with torch.no_grad():
        model[1].weight.zero_()
        model[1].weight[0] = region.flatten().float()
        model[1].weight[1] = 0.5 / 64
    return model.eval()


@pytest.fixture
def setting():
    patch = torch.zeros(8, 8, dtype=torch.bool)
    patch[:2, :2] = True
    elsewhere = torch.zeros(8, 8, dtype=torch.bool)
    elsewhere[5:, 3:7] = True
    clean = torch.zeros(6, 1, 8, 8)
    with_artifact, masks = plant_artifact(clean, "patch")
    return linear_on(patch), linear_on(elsewhere), with_artifact, masks, clean, patch, elsewhere


def test_closed_form_linear_models(setting) -> None:
    spurious, normal, with_artifact, masks, clean, patch, elsewhere = setting
    assert torch.equal(masks[0, 0], patch)
    for measure in ("ssim", "rank_accuracy", "roc_auc"):
        scores = spurious_signal_scores(Saliency, spurious, normal, with_artifact, masks, clean, target=0,
                                        measure=measure)
        assert torch.allclose(scores.kssd, torch.ones(6), atol=1e-6)  # |gradient| = the planted patch
    # the gradient does not depend on the input, so CCM = FAM = SSIM(patch, elsewhere)
    expected = ssim(patch.float()[None, None], elsewhere.float()[None, None], data_range=1.0)
    assert torch.allclose(scores.ccm, expected.expand(6)) and torch.allclose(scores.fam, expected.expand(6))
    assert float(expected) < 0.5
    as_list = spurious_signal_scores(Saliency, spurious, normal, with_artifact, masks, clean, target=[0] * 6,
                                     measure="roc_auc")
    assert torch.equal(as_list.ccm, scores.ccm) and torch.equal(as_list.kssd, scores.kssd)
    same = spurious_signal_scores(Saliency, spurious, spurious, with_artifact, masks, clean, target=0)
    assert torch.allclose(same.ccm, torch.ones(6)) and torch.allclose(same.fam, torch.ones(6))


def test_each_model_is_explained_once_over_all_inputs(setting) -> None:
    spurious, normal, with_artifact, masks, clean, *_ = setting
    calls: list[tuple[nn.Module, int, torch.Tensor]] = []

    def explain(model, inputs, target):
        calls.append((model, inputs.shape[0], target))
        return Saliency(model).attribute(inputs, target=target)

    without = clean[:4] + 0.1
    scores = spurious_signal_scores(explain, spurious, normal, with_artifact, masks, without)
    assert [(m, n) for m, n, _ in calls] == [(spurious, 10), (normal, 10)]
    both = torch.cat([with_artifact, without])
    for model, _, target in calls:  # target=None: each model's own predicted class
        with torch.no_grad():
            assert torch.equal(target, model(both).argmax(1))
    assert scores.kssd.shape == (6,) and scores.ccm.shape == (6,) and scores.fam.shape == (4,)
    assert scores.maps["normal_without"].shape == (4, 1, 8, 8)


def test_class_and_function_give_the_same_scores(setting) -> None:
    spurious, normal, with_artifact, masks, clean, *_ = setting
    x = with_artifact + 0.3 * torch.rand(with_artifact.shape, generator=torch.Generator().manual_seed(0))
    by_class = spurious_signal_scores(IntegratedGradients, spurious, normal, x, masks, clean + 0.2, target=0,
                                      n_steps=16)

    def explain(model, inputs, target):
        return IntegratedGradients(model).attribute(inputs, target=target, n_steps=16)

    by_function = spurious_signal_scores(explain, spurious, normal, x, masks, clean + 0.2, target=0)
    for name in ("kssd", "ccm", "fam", "kssd_random"):
        assert torch.allclose(getattr(by_class, name), getattr(by_function, name))
    table = evaluate_methods({"IG": explain, "Gradient": Saliency}, spurious, normal, x, masks, clean, target=0)
    assert list(table) == ["IG", "Gradient"]
    text = markdown_table({"patch": table})
    assert text.count("\n") == 3 and "| patch | Gradient | 1.000 |" in text


def test_random_map_baseline_is_seeded(setting) -> None:
    spurious, normal, with_artifact, masks, clean, *_ = setting
    a = spurious_signal_scores(Saliency, spurious, normal, with_artifact, masks, clean, target=0, seed=4)
    b = spurious_signal_scores(Saliency, spurious, normal, with_artifact, masks, clean, target=0, seed=4)
    c = spurious_signal_scores(Saliency, spurious, normal, with_artifact, masks, clean, target=0, seed=5)
    assert torch.equal(a.kssd_random, b.kssd_random) and not torch.equal(a.kssd_random, c.kssd_random)


def test_bad_inputs_name_the_argument(setting) -> None:
    spurious, normal, with_artifact, masks, clean, *_ = setting
    with pytest.raises(TypeError, match="`method`.*instance of Saliency"):
        spurious_signal_scores(Saliency(spurious), spurious, normal, with_artifact, masks, clean)
    with pytest.raises(ValueError, match=r"`method`.*\(12, 1, 8, 8\).*shape \(12, 64\)"):
        spurious_signal_scores(lambda m, x, t: x.flatten(1), spurious, normal, with_artifact, masks, clean)
    with pytest.raises(TypeError, match="`attribute_kwargs`"):
        spurious_signal_scores(lambda m, x, t: x, spurious, normal, with_artifact, masks, clean, abs=False)
    with pytest.raises(ValueError, match="`without_artifact`.*shape \\(6, 1, 4, 4\\)"):
        spurious_signal_scores(Saliency, spurious, normal, with_artifact, masks, clean[..., :4, :4])
    with pytest.raises(ValueError, match="`target`.*\\(3,\\)"):
        spurious_signal_scores(Saliency, spurious, normal, with_artifact, masks, clean, target=torch.zeros(3).long())
    with pytest.raises(ValueError, match=r"`masks`.*shape \(6, 1, 8, 7\)"):
        spurious_signal_scores(Saliency, spurious, normal, with_artifact, masks[..., :7], clean)
    with pytest.raises(TypeError, match="`methods`"):
        evaluate_methods({}, spurious, normal, with_artifact, masks, clean)
    with pytest.raises(TypeError, match="`method`"):
        explain_with(42, spurious, with_artifact, 0)
    with pytest.raises(TypeError, match="`method`.*built from the model alone.*LayerGradCam"):
        explain_with(LayerGradCam, spurious, with_artifact, 0)


class CornerDetector(nn.Module):
    """Class 0 when the top-left pixel is bright, else class 1 (a model that only uses the patch)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bright = (x[:, 0, 0, 0] > 0.99).float()
        return torch.stack([bright, 1 - bright], 1)


def test_artifact_reliance_of_a_patch_detector() -> None:
    data = spurious_digits("patch", target_class=0, rate=1.0, data=load_digits())
    reliance = artifact_reliance(CornerDetector(), data)
    labels = data.test.labels
    others = labels != 0
    clean_corner = data.test.clean[:, 0, 0, 0] > 0.99
    assert reliance.to_target_artifact == 1.0  # the patch sends every other digit to class 0
    assert reliance.to_target_clean == float((clean_corner & others).sum()) / int(others.sum())
    assert reliance.artifact_accuracy == pytest.approx(float((labels == 0).float().mean()))
    assert reliance.clean_accuracy == pytest.approx(float(((labels == 1) & ~clean_corner).float().mean()
                                                          + ((labels == 0) & clean_corner).float().mean()))
    assert reliance.accuracy_gap == reliance.clean_accuracy - reliance.artifact_accuracy
    with pytest.raises(TypeError, match="`data`"):
        artifact_reliance(CornerDetector(), data.test)
