"""Models that return ONE scalar for the whole batch (a loss, a batch statistic), as Captum allows.

The batch is perturbed as a whole (each feature in every example at once), one model call per
perturbation; attributions have first dimension 1 and explain the change of that scalar.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from veracity.attr import (
    RISE,
    FeatureAblation,
    FeaturePermutation,
    KernelShap,
    Lime,
    LimeBase,
    Occlusion,
    ShapleyValues,
    ShapleyValueSampling,
)
from veracity.attr.perturbation import TorchLinearRegression

W = torch.tensor([1.0, -2.0, 3.0, 0.5, -1.5], dtype=torch.float64)
V = torch.tensor([0.3, -0.7, 1.1, 0.2, -0.4], dtype=torch.float64)


def batch_sum(x: torch.Tensor) -> torch.Tensor:
    """sum over the batch and features of w * x: a 0-d output."""
    return (W * x).sum()


def batch_loss(x: torch.Tensor) -> torch.Tensor:
    """A mean squared error over the batch: nonlinear, not additive, a 0-d output."""
    target = torch.arange(x.shape[0], dtype=x.dtype)
    return ((torch.tanh(x @ V) * 2 - target) ** 2).mean()


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _x(batch: int = 4) -> torch.Tensor:
    return torch.randn(batch, 5, dtype=torch.float64)


def _closed_form(x: torch.Tensor, baseline: float | torch.Tensor = 0.0) -> torch.Tensor:
    """Change of the batch sum when feature j is removed from every example: (1, 5)."""
    return (W * (x - baseline)).sum(0, keepdim=True)


MASK = torch.tensor([[0, 0, 1, 2, 2]])


def _grouped(per_feature: torch.Tensor) -> torch.Tensor:
    groups = torch.stack([per_feature[:, :2].sum(1), per_feature[:, 2], per_feature[:, 3:].sum(1)], 1)
    return groups[:, MASK.reshape(-1)]


@pytest.mark.parametrize("ppe", [None, 1])
def test_feature_ablation_closed_form(ppe: int | None) -> None:
    x = _x()
    attr = FeatureAblation(batch_sum).attribute(x, baselines=0.5, perturbations_per_eval=ppe)
    assert attr.shape == (1, 5)
    torch.testing.assert_close(attr, _closed_form(x, 0.5))
    grouped = FeatureAblation(batch_sum).attribute(x, feature_mask=MASK, perturbations_per_eval=ppe)
    torch.testing.assert_close(grouped, _grouped(_closed_form(x)))


def test_occlusion_window_one_closed_form() -> None:
    x = _x()
    base = torch.randn(1, 5, dtype=torch.float64)
    attr = Occlusion(batch_sum).attribute(x, sliding_window_shapes=(1,), baselines=base)
    assert attr.shape == (1, 5)
    torch.testing.assert_close(attr, _closed_form(x, base))


def test_occlusion_overlapping_windows_average_the_batch_changes() -> None:
    x = _x(3)
    attr = Occlusion(batch_sum).attribute(x, sliding_window_shapes=(2,), strides=1)
    terms = _closed_form(x)[0]
    windows = [terms[i:i + 2].sum() for i in range(4)]  # windows [0,2) [1,3) [2,4) [3,5)
    expected = torch.stack([windows[0], (windows[0] + windows[1]) / 2, (windows[1] + windows[2]) / 2,
                            (windows[2] + windows[3]) / 2, windows[3]]).unsqueeze(0)
    torch.testing.assert_close(attr, expected)


def test_shapley_values_closed_form_and_efficiency() -> None:
    x = _x()
    attr = ShapleyValues(batch_sum).attribute(x, feature_mask=MASK, baselines=-0.25)
    assert attr.shape == (1, 5)
    torch.testing.assert_close(attr, _grouped(_closed_form(x, -0.25)))
    loss_attr = ShapleyValues(batch_loss).attribute(x, feature_mask=MASK)
    groups = loss_attr[0, [0, 2, 3]]
    torch.testing.assert_close(groups.sum(), batch_loss(x) - batch_loss(torch.zeros_like(x)))


def test_shapley_value_sampling_exact_on_additive_and_efficient_on_a_loss() -> None:
    x = _x()
    attr = ShapleyValueSampling(batch_sum).attribute(x, n_samples=3, generator=_gen())
    torch.testing.assert_close(attr, _closed_form(x))
    loss_attr = ShapleyValueSampling(batch_loss).attribute(x, n_samples=7, perturbations_per_eval=1,
                                                           generator=_gen(1))
    assert loss_attr.shape == (1, 5)
    torch.testing.assert_close(loss_attr.sum(), batch_loss(x) - batch_loss(torch.zeros_like(x)))


def test_feature_permutation_is_the_change_of_the_loss() -> None:
    def roll(x: torch.Tensor, feature_mask: torch.Tensor) -> torch.Tensor:
        return torch.where(feature_mask.bool(), x.roll(1, 0), x)

    x = _x(6)
    attr = FeaturePermutation(batch_loss, perm_func=roll).attribute(x)
    assert attr.shape == (1, 5)
    expected = torch.stack([batch_loss(x) - batch_loss(roll(x, torch.arange(5) == j)) for j in range(5)])
    torch.testing.assert_close(attr, expected.unsqueeze(0))
    shuffled = FeaturePermutation(batch_sum).attribute(x, generator=_gen())  # a sum ignores the order
    torch.testing.assert_close(shuffled, torch.zeros(1, 5, dtype=torch.float64))


def test_tuple_inputs_additional_args_and_a_python_float() -> None:
    def two(a: torch.Tensor, b: torch.Tensor, scale: float) -> float:
        return float(scale * ((W[:3] * a).sum() + (W[3:] * b).sum()))

    a, b = torch.randn(3, 3, dtype=torch.float64), torch.randn(3, 2, dtype=torch.float64)
    attr_a, attr_b = FeatureAblation(two).attribute((a, b), additional_forward_args=(2.0,))
    expected = 2 * _closed_form(torch.cat([a, b], 1))
    torch.testing.assert_close(attr_a, expected[:, :3])
    torch.testing.assert_close(attr_b, expected[:, 3:])


def test_a_loss_closing_over_the_batch_labels() -> None:
    """Such a model fails on stacked copies of the batch; the engine then tries the batch alone."""
    x = _x()
    labels = torch.randn(4, dtype=torch.float64)

    def loss(t: torch.Tensor) -> torch.Tensor:
        return ((t @ V - labels) ** 2).mean()

    attr = FeatureAblation(loss).attribute(x)
    expected = torch.stack([loss(x) - loss(torch.where(torch.arange(5) == j, 0.0, x)) for j in range(5)])
    torch.testing.assert_close(attr, expected.unsqueeze(0))
    with pytest.raises(ValueError, match="perturbations_per_eval"):
        FeatureAblation(loss).attribute(x, perturbations_per_eval=3)

    def broken(t: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        FeatureAblation(broken).attribute(x)


def test_one_example_with_a_0d_output_equals_the_per_example_result() -> None:
    x = _x(1)
    scalar = FeatureAblation(batch_sum).attribute(x)
    per_example = FeatureAblation(lambda t: (W * t).sum(1)).attribute(x)
    torch.testing.assert_close(scalar, per_example)


def test_single_output_row_with_one_target_or_a_callable() -> None:
    weights = torch.randn(5, 3, dtype=torch.float64)

    def pooled(x: torch.Tensor) -> torch.Tensor:
        return (x @ weights).sum(0, keepdim=True)  # (1, 3) for the whole batch

    x = _x()
    expected = (weights[:, 1] * x).sum(0, keepdim=True)
    torch.testing.assert_close(FeatureAblation(pooled).attribute(x, target=1), expected)
    torch.testing.assert_close(FeatureAblation(pooled).attribute(x, target=[1, 1, 1, 1]), expected)
    torch.testing.assert_close(FeatureAblation(pooled).attribute(x, target=lambda out: out[:, 1]), expected)


def test_rise_gives_one_map() -> None:
    x = torch.rand(3, 2, 6, 6, dtype=torch.float64)
    attr = RISE(lambda t: t.sum()).attribute(x, n_masks=20, mask_resolution=3, generator=_gen())
    assert attr.shape == (1, 2, 6, 6)
    single = RISE(lambda t: t.flatten(1).sum(1)).attribute(x[:1], n_masks=20, mask_resolution=3, generator=_gen())
    scalar = RISE(lambda t: t.sum()).attribute(x[:1], n_masks=20, mask_resolution=3, generator=_gen())
    torch.testing.assert_close(scalar, single)


# --- Lime / KernelShap: the batch is one instance -------------------------------------------


def test_kernel_shap_closed_form() -> None:
    x = _x()
    attr = KernelShap(batch_sum).attribute(x, n_samples=60, generator=_gen())
    assert attr.shape == (1, 5)
    torch.testing.assert_close(attr, _closed_form(x), atol=1e-6, rtol=1e-6)
    coefs = KernelShap(batch_sum).attribute(x, feature_mask=MASK, n_samples=30, return_input_shape=False,
                                            generator=_gen())
    torch.testing.assert_close(coefs, _grouped(_closed_form(x))[:, [0, 2, 3]], atol=1e-6, rtol=1e-6)


def test_lime_shape_and_batch_similarity() -> None:
    x = _x()
    attr = Lime(batch_loss).attribute(x, n_samples=30, generator=_gen())
    assert attr.shape == (1, 5)
    seen: list[tuple[int, ...]] = []

    def similarity(original: torch.Tensor, perturbed: torch.Tensor, sample: torch.Tensor, **kwargs: Any) -> float:
        seen.append((original.shape[0], perturbed.shape[0], sample.shape[0]))
        return 1.0

    Lime(batch_sum, TorchLinearRegression(), similarity_func=similarity).attribute(x, n_samples=12,
                                                                                  generator=_gen())
    assert set(seen) == {(4, 4, 1)}  # called once per sample, with the whole batch


def test_lime_base_with_a_batch_scalar() -> None:
    x = _x(3)
    bits = torch.Generator().manual_seed(3)
    lime = LimeBase(batch_sum, TorchLinearRegression(), lambda *a, **k: 1.0,
                    lambda inputs, **k: torch.randint(0, 2, (1, 5), generator=bits), True,
                    lambda z, inputs, **k: inputs * z, None)
    coefs = lime.attribute(x, n_samples=40)
    torch.testing.assert_close(coefs, (W * x).sum(0, keepdim=True), atol=1e-6, rtol=1e-6)


# --- errors --------------------------------------------------------------------------------


_MODELS: list[tuple[type, dict[str, Any]]] = [
    (FeatureAblation, {}),
    (Occlusion, {"sliding_window_shapes": (1,)}),
    (ShapleyValueSampling, {"n_samples": 2}),
    (ShapleyValues, {"feature_mask": MASK}),
    (FeaturePermutation, {}),
    (Lime, {"n_samples": 10}),
    (KernelShap, {"n_samples": 10}),
]


@pytest.mark.parametrize(("method", "kwargs"), _MODELS)
def test_perturbations_per_eval_above_one_is_refused(method: type, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="perturbations_per_eval.*one scalar for the whole batch"):
        method(batch_sum).attribute(_x(), perturbations_per_eval=2, **kwargs)


def test_targets_that_make_no_sense_are_refused() -> None:
    x = _x()
    with pytest.raises(ValueError, match="`target`.*single scalar for the whole batch"):
        FeatureAblation(batch_sum).attribute(x, target=0)
    pooled = lambda t: (t @ torch.ones(5, 3, dtype=t.dtype)).sum(0, keepdim=True)  # noqa: E731
    with pytest.raises(ValueError, match="`target`.*one target for the whole batch"):
        FeatureAblation(pooled).attribute(x, target=[0, 1, 0, 1])
    with pytest.raises(ValueError, match="`target`: expected an index"):
        FeatureAblation(pooled).attribute(x)


def test_per_example_masks_and_samples_are_refused() -> None:
    x = _x()
    mask = torch.arange(20).view(4, 5)
    with pytest.raises(ValueError, match="`feature_mask`.*first dimension 1"):
        FeatureAblation(batch_sum).attribute(x, feature_mask=mask)
    with pytest.raises(ValueError, match="`feature_mask`.*first dimension 1"):
        ShapleyValueSampling(batch_sum).attribute(x, feature_mask=mask % 5, n_samples=2)

    def per_example(inputs: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return torch.randint(0, 2, (4, 5))

    with pytest.raises(ValueError, match="`perturb_func`"):
        Lime(batch_sum, perturb_func=per_example).attribute(x, n_samples=5)


def test_per_example_models_are_unchanged() -> None:
    x = _x()
    attr = FeatureAblation(lambda t: (W * t).sum(1)).attribute(x, perturbations_per_eval=3)
    torch.testing.assert_close(attr, W * x)


# --- Captum 0.9 parity ---------------------------------------------------------------------


@pytest.fixture
def captum_attr() -> Any:
    return pytest.importorskip("captum.attr")


def _same(ours: Any, theirs: Any, tol: float = 1e-5) -> None:
    """Same shape (first dimension 1) and values; Captum accumulates some methods in float32."""
    assert ours.shape == theirs.shape and ours.shape[0] == 1
    torch.testing.assert_close(ours, theirs.to(ours.dtype), atol=tol, rtol=tol)


def test_captum_feature_ablation_and_occlusion(captum_attr: Any) -> None:
    x = _x()
    for kwargs in ({"baselines": 0.5}, {"feature_mask": MASK}):
        _same(FeatureAblation(batch_loss).attribute(x, **kwargs),
              captum_attr.FeatureAblation(batch_loss).attribute(x, **kwargs))
    image = torch.randn(3, 1, 5, 5, dtype=torch.float64)

    def image_loss(t: torch.Tensor) -> torch.Tensor:
        return torch.tanh(t.flatten(1) @ torch.linspace(-1, 1, 25, dtype=t.dtype)).pow(2).sum()

    kwargs = {"sliding_window_shapes": (1, 2, 3), "strides": (1, 2, 1), "baselines": 0.1}
    _same(Occlusion(image_loss).attribute(image, **kwargs),
          captum_attr.Occlusion(image_loss).attribute(image, **kwargs))


def test_captum_single_output_row_with_target(captum_attr: Any) -> None:
    weights = torch.randn(5, 3, dtype=torch.float64)

    def pooled(x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x @ weights).sum(0, keepdim=True)

    x = _x()
    _same(FeatureAblation(pooled).attribute(x, target=2), captum_attr.FeatureAblation(pooled).attribute(x, target=2))


def test_captum_shapley(captum_attr: Any) -> None:
    x = _x()
    _same(ShapleyValues(batch_loss).attribute(x, feature_mask=MASK, baselines=0.2),
          captum_attr.ShapleyValues(batch_loss).attribute(x, feature_mask=MASK, baselines=0.2))
    _same(ShapleyValueSampling(batch_sum).attribute(x, n_samples=3, generator=_gen()),
          captum_attr.ShapleyValueSampling(batch_sum).attribute(x, n_samples=3))


def test_captum_feature_permutation(captum_attr: Any) -> None:
    def roll(x: torch.Tensor, feature_mask: torch.Tensor) -> torch.Tensor:
        return torch.where(feature_mask.bool(), x.roll(1, 0), x)

    x = _x(6)
    _same(FeaturePermutation(batch_loss, perm_func=roll).attribute(x, feature_mask=MASK),
          captum_attr.FeaturePermutation(batch_loss, perm_func=roll).attribute(x, feature_mask=MASK))


def test_captum_kernel_shap_and_lime(captum_attr: Any) -> None:
    pytest.importorskip("sklearn")
    from captum._utils.models.linear_model import SkLearnLinearRegression

    x = _x()
    _same(KernelShap(batch_sum).attribute(x, n_samples=60, generator=_gen()),
          captum_attr.KernelShap(batch_sum).attribute(x, n_samples=60), tol=1e-4)

    fixed = torch.Generator().manual_seed(5)
    samples = [torch.ones(1, 3, dtype=torch.long), torch.zeros(1, 3, dtype=torch.long)]
    samples += [torch.randint(0, 2, (1, 3), generator=fixed) for _ in range(10)]

    def replay(original: Any, **kwargs: Any) -> Any:
        yield from samples

    kwargs = {"feature_mask": MASK, "n_samples": len(samples), "baselines": 0.3}
    _same(Lime(batch_loss, TorchLinearRegression(), perturb_func=replay).attribute(x, **kwargs),
          captum_attr.Lime(batch_loss, SkLearnLinearRegression(), perturb_func=replay).attribute(x, **kwargs))
    coefs = Lime(batch_loss, TorchLinearRegression(), perturb_func=replay).attribute(
        x, return_input_shape=False, **kwargs)
    theirs = captum_attr.Lime(batch_loss, SkLearnLinearRegression(), perturb_func=replay).attribute(
        x, return_input_shape=False, **kwargs)
    torch.testing.assert_close(coefs.reshape(-1), theirs.to(coefs.dtype).reshape(-1), atol=1e-5, rtol=1e-5)
    assert coefs.shape == (1, 3)
