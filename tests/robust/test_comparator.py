"""AttackComparator and MinParamPerturbation: parity with Captum 0.9 on the same calls."""

from __future__ import annotations

import pytest
import torch
from captum.robust import FGSM as CaptumFGSM
from captum.robust import AttackComparator as CaptumComparator
from captum.robust import MinParamPerturbation as CaptumMinParam

from veracity.robust import FGSM, AttackComparator, MinParamPerturbation


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3),
                               torch.nn.Softmax(1)).double().eval()


def accuracy(model_out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (model_out.argmax(1) == target).float()


def two_metrics(model_out: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return (model_out.argmax(1) == target).float(), model_out.max(1).values


class Cycle:
    """A 'random' attack that is deterministic: the k-th call adds the k-th offset."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return x + 0.3 * self.calls * torch.sin(torch.arange(x.numel(), dtype=x.dtype).reshape(x.shape))


def _compare(a, b) -> None:
    if isinstance(a, dict):
        assert set(a) == set(b)
        for key in a:
            _compare(a[key], b[key])
    elif isinstance(a, tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _compare(x, y)
    else:
        assert torch.allclose(torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64),
                              atol=1e-6), (a, b)


@pytest.mark.parametrize("metric", [accuracy, two_metrics])
@pytest.mark.parametrize("per_eval", [1, 3])
def test_comparator_matches_captum(metric, per_eval):
    model = _model()
    comparators = []
    for comparator_cls, fgsm_cls in ((AttackComparator, FGSM), (CaptumComparator, CaptumFGSM)):
        comparator = comparator_cls(model, metric, preproc_fn=lambda x: x * 0.5)
        comparator.add_attack(fgsm_cls(model), "FGSM", attack_kwargs={"epsilon": 0.4},
                              additional_attack_arg_names=["target"])
        comparator.add_attack(Cycle(), "Cycle", num_attempts=3)
        comparator.add_attack(Cycle(), "After", apply_before_preproc=False)
        comparators.append(comparator)
    torch.manual_seed(5)
    for rows in (4, 7):
        x, target = torch.rand(rows, 4, dtype=torch.float64), torch.randint(0, 3, (rows,))
        ours = comparators[0].evaluate(x, perturbations_per_eval=per_eval, target=target)
        theirs = comparators[1].evaluate(x, perturbations_per_eval=per_eval, target=target)
        _compare(ours, theirs)
    _compare(comparators[0].summary(), comparators[1].summary())
    comparators[0].reset()
    assert comparators[0].summary() == {}


def test_comparator_bad_input():
    comparator = AttackComparator(_model(), accuracy)
    comparator.add_attack(Cycle(), "Cycle")
    with pytest.raises(ValueError, match="`name`"):
        comparator.add_attack(Cycle(), "Cycle")
    with pytest.raises(ValueError, match="`num_attempts`"):
        comparator.add_attack(Cycle(), "Other", num_attempts=0)


def _shift(x: torch.Tensor, amount: float) -> torch.Tensor:
    return x - amount * torch.tensor([1.0, -1.0, 0.5, 0.0], dtype=x.dtype)


@pytest.mark.parametrize("mode", ["linear", "binary"])
@pytest.mark.parametrize("per_eval", [1, 4])
def test_min_param_matches_captum(mode, per_eval):
    model = _model()
    x = torch.tensor([[0.3, -0.2, 0.1, 0.4]], dtype=torch.float64)
    target = int(model(x).argmax(1))
    ours = MinParamPerturbation(model, _shift, "amount", 0.0, 5.0, 0.05, mode=mode)
    theirs = CaptumMinParam(model, _shift, "amount", 0.0, 5.0, 0.05, mode=mode)
    found, value = ours.evaluate(x, target=target, perturbations_per_eval=per_eval)
    found_c, value_c = theirs.evaluate(x, target=target, perturbations_per_eval=per_eval)
    assert value is not None and value == pytest.approx(value_c)
    assert torch.allclose(found, found_c)
    assert int(model(found).argmax(1)) != target
    assert int(model(_shift(x, value - 0.05)).argmax(1)) == target


def test_min_param_with_fgsm_epsilon_matches_captum():
    model = _model()
    torch.manual_seed(6)
    x = torch.rand(1, 4, dtype=torch.float64)
    target = model(x).argmax(1)
    results = []
    for cls, fgsm in ((MinParamPerturbation, FGSM), (CaptumMinParam, CaptumFGSM)):
        search = cls(model, fgsm(model), "epsilon", 0.0, 3.0, 0.02)
        results.append(search.evaluate(x, target=target, attack_kwargs={"target": target}))
    assert results[0][1] is not None and results[0][1] == pytest.approx(results[1][1])
    assert torch.allclose(results[0][0], results[1][0])


def test_min_param_not_found_and_bad_input():
    model = _model()
    x = torch.tensor([[0.3, -0.2, 0.1, 0.4]], dtype=torch.float64)
    target = int(model(x).argmax(1))
    search = MinParamPerturbation(model, _shift, "amount", 0.0, 0.01, 0.005)
    assert search.evaluate(x, target=target) == (None, None)
    with pytest.raises(ValueError, match="`arg_step`"):
        MinParamPerturbation(model, _shift, "amount", 0.0, 1.0, 0.0)
    with pytest.raises(ValueError, match="`mode`"):
        MinParamPerturbation(model, _shift, "amount", 0.0, 1.0, 0.1, mode="ternary")
    with pytest.raises(ValueError, match="`target`"):
        search.evaluate(x)
