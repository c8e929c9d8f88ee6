"""TCAV: parity with Captum 0.9 given the same CAVs, deterministic CAVs, the cache, bad input."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

from veracity.concept import CAV, TCAV, Classifier, Concept, DefaultClassifier, SklearnClassifier
from veracity.concept.cav import model_fingerprint


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(1, 3, 3, padding=1)
        self.act = nn.Tanh()
        self.fc1 = nn.Linear(3 * 6 * 6, 8)
        self.act2 = nn.Softplus()
        self.fc2 = nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act2(self.fc1(self.act(self.conv(x)).flatten(1))))


LAYERS = ["conv", "act", "fc1"]


def concepts(n: int = 4, rows: int = 12) -> list[Concept]:
    g = torch.Generator().manual_seed(1)
    out = []
    for i in range(n):
        data = torch.randn(rows, 1, 6, 6, generator=g) + 0.5 * i
        out.append(Concept(i, f"c{i}", DataLoader(data, batch_size=5)))  # type: ignore[arg-type]
    return out


def mean_difference(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, list[int]]:
    """A closed-form 'classifier' both libraries can use: class mean minus overall mean."""
    classes = sorted({int(v) for v in y})
    return torch.stack([x[y == c].mean(0) - x.mean(0) for c in classes]), classes


def make_fixed(base: type) -> type:
    class Fixed(base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            self.w: torch.Tensor | None = None
            self.c: list[int] = []
            self.trained = 0

        def train_and_eval(self, dataloader, **kwargs):  # type: ignore[no-untyped-def]
            xs, ys = zip(*dataloader)
            self.w, self.c = mean_difference(torch.cat(xs), torch.cat(ys))
            self.trained += 1
            return {"accs": 1.0}

        def weights(self) -> torch.Tensor:
            assert self.w is not None
            return self.w

        def classes(self) -> list[int]:
            return self.c

    return Fixed


def test_parity_with_captum_given_the_same_cavs(tmp_path) -> None:  # type: ignore[no-untyped-def]
    captum_concept = pytest.importorskip("captum.concept")
    model = Net().eval()
    cs = concepts()
    sets = [[cs[0], cs[1]], [cs[0], cs[2]], [cs[1], cs[2], cs[3]], [cs[3], cs[2]]]
    inputs = torch.randn(9, 1, 6, 6, generator=torch.Generator().manual_seed(5))
    target = [0, 1, 2, 3, 0, 1, 2, 3, 0]
    ours = TCAV(model, LAYERS, classifier=make_fixed(Classifier)(), save_path=str(tmp_path / "v"))
    theirs = captum_concept.TCAV(model, LAYERS, classifier=make_fixed(captum_concept.Classifier)(),
                                 save_path=str(tmp_path / "c") + "/")
    got = ours.interpret(inputs, sets, target=target)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = theirs.interpret(inputs, sets, target=target)
    assert set(got) == set(expected) == {"0-1", "0-2", "1-2-3", "3-2"}
    for key in expected:
        for layer in LAYERS:
            for score in ("sign_count", "magnitude"):
                torch.testing.assert_close(got[key][layer][score], expected[key][layer][score], atol=1e-6, rtol=0)
    # a pair's sign count and its complement sum to 1
    for key in ("0-1", "0-2", "3-2"):
        for layer in LAYERS:
            assert float(got[key][layer]["sign_count"].sum()) == pytest.approx(1.0)


def test_layers_by_module_and_one_pass_equal_by_name(tmp_path) -> None:  # type: ignore[no-untyped-def]
    model = Net().eval()
    cs = concepts(2)
    x = torch.randn(5, 1, 6, 6)
    by_name = TCAV(model, ["fc1", "conv"], classifier=make_fixed(Classifier)(), save_path=str(tmp_path / "a"))
    by_module = TCAV(model, [model.fc1, model.conv], classifier=make_fixed(Classifier)(), save_path=str(tmp_path / "b"))
    a = by_name.interpret(x, [cs], target=1)
    b = by_module.interpret(x, [cs], target=1)
    assert by_module.layers == ["fc1", "conv"]
    for layer in ("fc1", "conv"):
        torch.testing.assert_close(a["0-1"][layer]["magnitude"], b["0-1"][layer]["magnitude"])


def test_default_classifier_is_sklearn_logistic_regression_and_deterministic() -> None:
    sklearn = pytest.importorskip("sklearn.linear_model")
    g = torch.Generator().manual_seed(3)
    x = torch.cat([torch.randn(30, 5, generator=g) + 0.7, torch.randn(30, 5, generator=g)]).double()
    y = torch.tensor([4] * 30 + [9] * 30)
    first, second = DefaultClassifier(alpha=0.05), DefaultClassifier(alpha=0.05)
    first.train_and_eval([(x, y)])
    second.train_and_eval([(x, y)])
    assert torch.equal(first.weights(), second.weights())
    # the same split, fitted by scikit-learn: C = 1 / (alpha * n_train)
    reference = SklearnClassifier(sklearn.LogisticRegression(C=1 / (0.05 * 41), tol=1e-12, max_iter=10_000))
    reference.train_and_eval([(x, y)])
    assert first.classes() == reference.classes() == [4, 9]
    torch.testing.assert_close(first.weights(), reference.weights().double(), atol=1e-6, rtol=1e-6)
    assert torch.allclose(first.weights()[0], -first.weights()[1])


def test_cavs_deterministic_and_cached(tmp_path) -> None:  # type: ignore[no-untyped-def]
    model = Net().eval()
    cs = concepts(3)
    a = TCAV(model, LAYERS, save_path=str(tmp_path / "a")).compute_cavs([[cs[0], cs[1]], [cs[1], cs[2]]])
    b = TCAV(model, LAYERS, save_path=str(tmp_path / "b")).compute_cavs([[cs[0], cs[1]], [cs[1], cs[2]]])
    for key in a:
        for layer in LAYERS:
            assert torch.equal(a[key][layer].stats["weights"], b[key][layer].stats["weights"])  # type: ignore[index]
    spy = make_fixed(Classifier)()
    again = TCAV(model, LAYERS, classifier=spy, save_path=str(tmp_path / "a"))
    loaded = again.compute_cavs([[cs[0], cs[1]]])
    assert spy.trained == 0
    assert torch.equal(loaded["0-1"]["fc1"].stats["weights"], a["0-1"]["fc1"].stats["weights"])  # type: ignore[index]
    again.compute_cavs([[cs[0], cs[1]]], force_train=True)
    assert spy.trained == len(LAYERS)


def test_stale_and_foreign_caches_are_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    model = Net().eval()
    cs = concepts(2)
    TCAV(model, ["fc1"], save_path=str(tmp_path)).compute_cavs([cs])
    changed = Net().eval()
    with torch.no_grad():
        changed.fc1.weight.mul_(1.5)
    assert model_fingerprint(changed) != model_fingerprint(model)
    with pytest.raises(ValueError, match=r"`save_path`.*stale"):
        TCAV(changed, ["fc1"], save_path=str(tmp_path)).compute_cavs([cs])
    renamed = [Concept(0, "other", cs[0].data_iter), cs[1]]
    with pytest.raises(ValueError, match=r"`save_path`.*holding concepts \['c0', 'c1'\]"):
        TCAV(model, ["fc1"], save_path=str(tmp_path)).compute_cavs([renamed])
    foreign = CAV.assemble_save_path(str(tmp_path), "default_model_id", cs, "act")
    with open(foreign, "wb") as handle:
        handle.write(b"not a cav")
    with pytest.raises(ValueError, match=r"`save_path`.*cannot be read"):
        TCAV(model, ["act"], save_path=str(tmp_path)).compute_cavs([cs])


def test_bad_input_names_the_argument(tmp_path) -> None:  # type: ignore[no-untyped-def]
    model = Net().eval()
    cs = concepts(2)
    with pytest.raises(ValueError, match=r"`layers`.*'fc3', which the model does not have"):
        TCAV(model, ["fc3"], save_path=str(tmp_path))
    tcav = TCAV(model, ["fc1"], save_path=str(tmp_path))
    empty = Concept(7, "empty", torch.zeros(0, 1, 6, 6))
    with pytest.raises(ValueError, match=r"`experimental_sets`.*Concept\(7, 'empty'\) with no examples"):
        tcav.compute_cavs([[cs[0], empty]])
    with pytest.raises(ValueError, match=r"`experimental_sets`.*None"):
        tcav.compute_cavs([[cs[0], Concept(8, "none", None)]])
    with pytest.raises(ValueError, match=r"`experimental_sets`.*set 1 with 1 concept"):
        tcav.interpret(torch.zeros(2, 1, 6, 6), [cs, [cs[0]]], target=0)
    with pytest.raises(ValueError, match=r"`experimental_sets`.*sharing id 0"):
        tcav.interpret(torch.zeros(2, 1, 6, 6), [cs, [Concept(0, "again", None), cs[1]]], target=0)
    with pytest.raises(ValueError, match=r"`attribute_to_layer_input`"):
        tcav.interpret(torch.zeros(2, 1, 6, 6), [cs], target=0, attribute_to_layer_input=True)
    with pytest.raises(ValueError, match=r"`target`"):
        tcav.interpret(torch.zeros(2, 1, 6, 6), [cs], target=[0, 1, 2])


def test_unbalanced_concepts_are_refused_unless_allowed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    model = Net().eval()
    small, big = concepts(2, rows=5)[0], concepts(2, rows=12)[1]
    tcav = TCAV(model, ["fc1"], save_path=str(tmp_path))
    with pytest.raises(ValueError, match=r"`experimental_sets`.*\{'c0': 5, 'c1': 12\}"):
        tcav.interpret(torch.zeros(2, 1, 6, 6), [[small, big]], target=0)
    lenient = TCAV(model, ["fc1"], save_path=str(tmp_path / "lenient"), allow_unbalanced=True)
    scores = lenient.interpret(torch.zeros(2, 1, 6, 6), [[small, big]], target=0)
    assert torch.allclose(scores["0-1"]["fc1"]["sign_count"].sum(), torch.tensor(1.0))
