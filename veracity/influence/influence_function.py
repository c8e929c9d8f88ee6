"""Influence functions (Koh & Liang 2017), Captum's ``NaiveInfluenceFunction`` (explicit
Hessian) and ``ArnoldiInfluenceFunction`` (Schioppa et al. 2022: Arnoldi iteration on
Hessian-vector products). Both approximate ``H^{-1}`` by its top ``projection_dim``
eigenpairs, ``H^{-1} ~ L diag(1/lambda) L^T``, so that the influence of ``z`` on ``z'``,
``grad L(z')^T H^{-1} grad L(z)``, is the dot product of the embeddings
``grad L(x)^T L diag(lambda^{-1/2})``. ``H`` is the Hessian of the per-example losses
*summed* over ``hessian_dataset`` (the training set by default; a sum, as in Captum, not Koh &
Liang's mean) plus ``hessian_reg`` on the diagonal. Eigenvalues at or below
``hessian_inverse_tol`` are left out (a pseudo-inverse over the positive part of ``H``)."""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor, nn

from veracity._core.influence import gradient_matrix, loss_hessian, loss_hvp
from veracity._core.progress import progress_bar
from veracity._core.validate import check_positive_int, fail
from veracity.influence._data import (
    Batch,
    KMostInfluentialResults,
    batches_of,
    load_checkpoint,
    load_flexible_state_dict,
    per_example_loss,
    require_reduction,
)
from veracity.influence.base import DataInfluence
from veracity.influence.tracincp import layer_parameters


class _InfluenceFunction(DataInfluence):
    def __init__(self, model: nn.Module, train_dataset: Any, checkpoint: str, checkpoints_load_func: Callable,
                 layers: list[str] | None, loss_fn: Callable | None, batch_size: int | None, hessian_dataset: Any,
                 test_loss_fn: Callable | None, sample_wise_grads_per_batch: bool, projection_dim: int,
                 hessian_reg: float, hessian_inverse_tol: float, show_progress: bool) -> None:
        allowed = ("sum", "mean") if sample_wise_grads_per_batch else ("none",)
        why = "sample_wise_grads_per_batch=True" if sample_wise_grads_per_batch else "one loss per example"
        require_reduction("loss_fn", loss_fn, allowed, why)
        if test_loss_fn is not None:
            require_reduction("test_loss_fn", test_loss_fn, allowed, why)
        self.projection_dim = check_positive_int("projection_dim", projection_dim)
        if hessian_reg < 0:
            fail("hessian_reg", "a number >= 0", str(hessian_reg))
        self.model = model
        self.train_dataset, self.batch_size = train_dataset, batch_size
        self.hessian_dataset = train_dataset if hessian_dataset is None else hessian_dataset
        self.checkpoint = checkpoint
        self.working, _ = load_checkpoint(model, checkpoint, checkpoints_load_func, "checkpoint")
        self.parameter_names = layer_parameters(self.working, layers)
        self._train_loss = per_example_loss(loss_fn)
        self._test_loss = per_example_loss(loss_fn if test_loss_fn is None else test_loss_fn)
        self.hessian_reg, self.hessian_inverse_tol = hessian_reg, hessian_inverse_tol
        self.show_progress = show_progress
        values, vectors = self._top_eigen()
        keep = values > hessian_inverse_tol
        # H^{-1} ~ R R^T with R = L diag(lambda^{-1/2}): embeddings are gradients times R
        self.projection = vectors[:, keep] / values[keep].sqrt()

    def _hessian_batches(self) -> list[Batch]:
        return list(batches_of(self.hessian_dataset, self.batch_size, "hessian_dataset"))

    def _top_eigen(self) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def compute_intermediate_quantities(self, inputs_dataset: Any, aggregate: bool = False,
                                        show_progress: bool = False, return_on_cpu: bool = True,
                                        test: bool = False) -> Tensor:
        """Influence embeddings ``(n, k)``: dot products of these are influence scores."""
        loss = self._test_loss if test else self._train_loss
        parts = [gradient_matrix(self.working, inputs, labels, loss, self.parameter_names) @ self.projection
                 for inputs, labels in batches_of(inputs_dataset, self.batch_size, "inputs")]
        result = torch.cat(parts)
        result = result.sum(0, keepdim=True) if aggregate else result
        return result.cpu() if return_on_cpu else result

    def influence(self, inputs: Any, k: int | None = None, proponents: bool = True,  # type: ignore[override]
                  show_progress: bool = False) -> Tensor | KMostInfluentialResults:
        """Scores ``(n_test, n_train)``, or with ``k`` the top-``k`` proponents / opponents."""
        test = self.compute_intermediate_quantities(inputs, test=True, return_on_cpu=False)
        scores = test @ self.compute_intermediate_quantities(self.train_dataset, return_on_cpu=False).T
        if k is None:
            return scores
        check_positive_int("k", k)
        best = scores.topk(min(k, scores.shape[1]), dim=1, largest=proponents)
        return KMostInfluentialResults(best.indices, best.values)

    def self_influence(self, inputs_dataset: Any = None, show_progress: bool = False) -> Tensor:
        """``grad L(z)^T H^{-1} grad L(z)`` per example (default: the training set)."""
        data = self.train_dataset if inputs_dataset is None else inputs_dataset
        embeddings = self.compute_intermediate_quantities(data, return_on_cpu=False)
        return (embeddings * embeddings).sum(1)


class NaiveInfluenceFunction(_InfluenceFunction):
    """Influence functions with the Hessian formed explicitly (``torch.func.hessian`` per batch)
    and eigendecomposed: exact for small models (with ``projection_dim`` at least the number
    of parameters it equals ``grad^T (H + reg I)^{-1} grad``), the ground truth for others.

    Example:
        >>> import os, tempfile
        >>> from torch.utils.data import TensorDataset
        >>> _ = torch.manual_seed(0); model = nn.Linear(3, 2)
        >>> path = os.path.join(tempfile.mkdtemp(), "c.pt"); torch.save(model.state_dict(), path)
        >>> data = TensorDataset(torch.randn(8, 3), torch.randint(0, 2, (8,)))
        >>> naive = NaiveInfluenceFunction(model, data, path, loss_fn=nn.CrossEntropyLoss(reduction="none"),
        ...                                batch_size=4, projection_dim=8)
        >>> naive.influence((torch.randn(2, 3), torch.tensor([0, 1]))).shape
        torch.Size([2, 8])
    """

    def __init__(self, model: nn.Module, train_dataset: Any, checkpoint: str,
                 checkpoints_load_func: Callable[[nn.Module, str], float] = load_flexible_state_dict,
                 layers: list[str] | None = None, loss_fn: Callable | None = None, batch_size: int | None = 1,
                 hessian_dataset: Any = None, test_loss_fn: Callable | None = None,
                 sample_wise_grads_per_batch: bool = False, projection_dim: int = 50, seed: int = 42,
                 hessian_reg: float = 1e-6, hessian_inverse_tol: float = 1e-5, projection_on_cpu: bool = True,
                 show_progress: bool = False) -> None:
        self.seed = seed
        super().__init__(model, train_dataset, checkpoint, checkpoints_load_func, layers, loss_fn, batch_size,
                         hessian_dataset, test_loss_fn, sample_wise_grads_per_batch, projection_dim, hessian_reg,
                         hessian_inverse_tol, show_progress)

    def hessian(self) -> Tensor:
        """The summed per-example loss Hessian over ``hessian_dataset``, plus ``hessian_reg * I``."""
        total = None
        batches = self._hessian_batches()
        with progress_bar(len(batches), self.show_progress, "Hessian") as bar:
            for inputs, labels in batches:
                part = loss_hessian(self.working, inputs, labels, self._train_loss, self.parameter_names)
                total = part if total is None else total + part
                bar.update()
        assert total is not None
        return total + self.hessian_reg * torch.eye(total.shape[0], dtype=total.dtype, device=total.device)

    def _top_eigen(self) -> tuple[Tensor, Tensor]:
        values, vectors = torch.linalg.eigh(self.hessian())
        order = values.argsort(descending=True)[: self.projection_dim]
        return values[order], vectors[:, order]


class ArnoldiInfluenceFunction(_InfluenceFunction):
    """Influence functions whose top eigenpairs come from ``arnoldi_dim`` steps of the Arnoldi
    iteration on Hessian-vector products (double backward over ``hessian_dataset``), never
    forming the Hessian; the iteration stops early when the Krylov space is exhausted (a new
    direction's norm below ``arnoldi_tol * 1e-8`` times the largest Hessenberg entry). Starts from a
    random vector drawn under ``seed``.

    Example:
        >>> import os, tempfile
        >>> from torch.utils.data import TensorDataset
        >>> _ = torch.manual_seed(0); model = nn.Linear(3, 2)
        >>> path = os.path.join(tempfile.mkdtemp(), "c.pt"); torch.save(model.state_dict(), path)
        >>> data = TensorDataset(torch.randn(8, 3), torch.randint(0, 2, (8,)))
        >>> loss = nn.CrossEntropyLoss(reduction="none")
        >>> arnoldi = ArnoldiInfluenceFunction(model, data, path, loss_fn=loss, batch_size=4, projection_dim=3)
        >>> arnoldi.self_influence().shape
        torch.Size([8])
    """

    def __init__(self, model: nn.Module, train_dataset: Any, checkpoint: str,
                 checkpoints_load_func: Callable[[nn.Module, str], float] = load_flexible_state_dict,
                 layers: list[str] | None = None, loss_fn: Callable | None = None, batch_size: int | None = 1,
                 hessian_dataset: Any = None, test_loss_fn: Callable | None = None,
                 sample_wise_grads_per_batch: bool = False, projection_dim: int = 50, seed: int = 0,
                 arnoldi_dim: int = 200, arnoldi_tol: float = 1e-1, hessian_reg: float = 1e-3,
                 hessian_inverse_tol: float = 1e-4, projection_on_cpu: bool = True,
                 show_progress: bool = False) -> None:
        self.seed = seed
        self.arnoldi_dim = check_positive_int("arnoldi_dim", arnoldi_dim)
        self.arnoldi_tol = arnoldi_tol
        super().__init__(model, train_dataset, checkpoint, checkpoints_load_func, layers, loss_fn, batch_size,
                         hessian_dataset, test_loss_fn, sample_wise_grads_per_batch, projection_dim, hessian_reg,
                         hessian_inverse_tol, show_progress)

    def _top_eigen(self) -> tuple[Tensor, Tensor]:
        batches = self._hessian_batches()
        names = self.parameter_names
        size = sum(p.numel() for n, p in self.working.named_parameters()
                   if (p.requires_grad if names is None else n in names))
        like = next(self.working.parameters())
        generator = torch.Generator().manual_seed(self.seed)
        start = torch.randn(size, generator=generator, dtype=like.dtype).to(like.device)
        basis = [start / start.norm()]
        steps = min(self.arnoldi_dim, size)
        hessenberg = torch.zeros(steps + 1, steps, dtype=like.dtype, device=like.device)
        with progress_bar(steps, self.show_progress, "Arnoldi") as bar:
            for j in range(steps):
                w = loss_hvp(self.working, batches, self._train_loss, names, basis[j])
                w = w + self.hessian_reg * basis[j]
                for _ in range(2):  # Gram-Schmidt twice keeps the basis orthogonal in floating point
                    for i, v in enumerate(basis):
                        coefficient = v @ w
                        hessenberg[i, j] += coefficient
                        w = w - coefficient * v
                hessenberg[j + 1, j] = w.norm()
                bar.update()
                if hessenberg[j + 1, j] < self.arnoldi_tol * 1e-8 * hessenberg.abs().max() or j + 1 == steps:
                    break
                basis.append(w / hessenberg[j + 1, j])
        m = len(basis)
        small = hessenberg[:m, :m]
        values, vectors = torch.linalg.eigh((small + small.T) / 2)
        order = values.argsort(descending=True)[: self.projection_dim]
        return values[order], torch.stack(basis, 1) @ vectors[:, order]
