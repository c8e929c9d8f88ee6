"""FeatureAblation and Occlusion: closed forms on additive models, masks, invariances."""

from __future__ import annotations

import pytest
import torch

from tests.attr.perturbation._models import Additive, mlp
from veracity.attr import FeatureAblation, Occlusion


def test_feature_ablation_per_element_is_exact_on_additive_model() -> None:
    model = Additive()
    x, base = torch.randn(3, 2, 4, dtype=torch.float64), torch.randn(3, 2, 4, dtype=torch.float64)
    attr = FeatureAblation(model).attribute(x, baselines=base, target=0)
    torch.testing.assert_close(attr, model.terms(x) - model.terms(base))


def test_feature_ablation_groups_sum_their_terms_and_span_inputs() -> None:
    def two(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return Additive()(torch.cat([a, b], 1))[:, 0]

    a, b = torch.randn(2, 3, dtype=torch.float64), torch.randn(2, 2, dtype=torch.float64)
    masks = (torch.tensor([[0, 5, 5]]), torch.tensor([[5, 9]]))  # id 5 spans both inputs
    attr_a, attr_b = FeatureAblation(two).attribute((a, b), feature_mask=masks)
    terms = Additive().terms(torch.cat([a, b], 1)) - Additive().terms(torch.zeros(2, 5, dtype=torch.float64))
    group5 = terms[:, 1] + terms[:, 2] + terms[:, 3]
    torch.testing.assert_close(attr_a, torch.stack([terms[:, 0], group5, group5], 1))
    torch.testing.assert_close(attr_b, torch.stack([group5, terms[:, 4]], 1))


def test_occlusion_matches_captum_semantics_by_hand() -> None:
    weights = torch.arange(1.0, 6.0, dtype=torch.float64)

    def model(x: torch.Tensor) -> torch.Tensor:
        return (x * weights).sum(1)

    x = torch.ones(1, 5, dtype=torch.float64)
    # windows [0,2) [2,4) [4,5): the last one clipped at the border
    clipped = Occlusion(model).attribute(x, sliding_window_shapes=(2,), strides=2)
    torch.testing.assert_close(clipped, torch.tensor([[3.0, 3.0, 7.0, 7.0, 5.0]], dtype=torch.float64))
    # overlapping windows: each element gets the mean of the windows covering it
    overlapping = Occlusion(model).attribute(x, sliding_window_shapes=(2,), strides=1)
    torch.testing.assert_close(overlapping, torch.tensor([[3.0, 4.0, 6.0, 8.0, 9.0]], dtype=torch.float64))


def test_occlusion_window_one_equals_ablation_and_is_exact() -> None:
    model = Additive()
    x = torch.randn(2, 2, 3, 3, dtype=torch.float64)
    occ = Occlusion(model).attribute(x, sliding_window_shapes=(1, 1, 1), baselines=0.5, target=1)
    abl = FeatureAblation(model).attribute(x, baselines=0.5, target=1)
    torch.testing.assert_close(occ, abl)
    torch.testing.assert_close(occ, 2 * (model.terms(x) - model.terms(torch.full_like(x, 0.5))))


def test_occlusion_tuple_inputs_are_occluded_separately() -> None:
    def model(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return (a * torch.tensor([1.0, 2.0, 3.0])).sum(1) + 10 * b.sum(1)

    attr_a, attr_b = Occlusion(model).attribute((torch.ones(1, 3), torch.ones(1, 2)),
                                                sliding_window_shapes=((2,), (1,)))
    torch.testing.assert_close(attr_a, torch.tensor([[3.0, 4.0, 5.0]]))
    torch.testing.assert_close(attr_b, torch.tensor([[10.0, 10.0]]))


@pytest.mark.parametrize("method", ["ablation", "occlusion"])
def test_any_perturbations_per_eval_and_batch_equal_per_example(method: str, cnn: torch.nn.Module) -> None:
    x = torch.randn(3, 1, 8, 8)
    mask = (torch.arange(64).view(1, 1, 8, 8) // 9)

    def run(inputs: torch.Tensor, ppe: int | None) -> torch.Tensor:
        if method == "ablation":
            return FeatureAblation(cnn).attribute(inputs, target=1, feature_mask=mask, perturbations_per_eval=ppe)
        return Occlusion(cnn).attribute(inputs, sliding_window_shapes=(1, 3, 3), strides=(1, 2, 2), target=1,
                                        perturbations_per_eval=ppe)

    reference = run(x, None)
    for ppe in (1, 3, 7, 1000):
        torch.testing.assert_close(run(x, ppe), reference, atol=1e-6, rtol=1e-5)
    single = torch.cat([run(x[i:i + 1], 2) for i in range(3)])
    torch.testing.assert_close(single, reference, atol=1e-6, rtol=1e-5)


def test_feature_mask_forms_give_the_same_groups() -> None:
    model = mlp(6)
    x = torch.randn(4, 6, dtype=torch.float64)
    ids = torch.tensor([[0, 0, 1, 1, 2, 2]])
    reference = FeatureAblation(model).attribute(x, target=0, feature_mask=ids)
    expanded = ids.expand(4, 6)  # an expanded (stride-0) mask, which Captum 0.9 cannot take
    sparse_ids = ids * 7 + 3  # non-contiguous ids
    as_float = ids.double()  # integral floats
    one_d = ids[0]  # broadcast from (6,)
    strided = torch.tensor([[0, 9, 0, 9, 1, 9, 1, 9, 2, 9, 2, 9]])[:, ::2]  # non-contiguous memory
    for mask in (expanded, sparse_ids, as_float, one_d, strided):
        torch.testing.assert_close(FeatureAblation(model).attribute(x, target=0, feature_mask=mask), reference)


def test_per_example_masks() -> None:
    model = Additive()
    x = torch.randn(2, 4, dtype=torch.float64)
    masks = torch.tensor([[0, 0, 1, 1], [0, 1, 1, 1]])
    attr = FeatureAblation(model).attribute(x, target=0, feature_mask=masks)
    terms = model.terms(x) - model.terms(torch.zeros_like(x))
    torch.testing.assert_close(attr[0], torch.stack([terms[0, :2].sum()] * 2 + [terms[0, 2:].sum()] * 2))
    torch.testing.assert_close(attr[1], torch.stack([terms[1, 0]] + [terms[1, 1:].sum()] * 3))
