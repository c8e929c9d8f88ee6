"""Perturbation attribution: ablation, occlusion, permutation, Shapley, LIME, KernelSHAP, RISE.

All methods describe their perturbations as stacked points and evaluate them through one
engine (:mod:`veracity.attr.perturbation._engine`), in chunks sized by the memory budget
unless ``perturbations_per_eval`` is given.
"""

from veracity.attr.perturbation.ablation import FeatureAblation, Occlusion
from veracity.attr.perturbation.baselines import ProductBaselines
from veracity.attr.perturbation.dataloader import DataLoaderAttribution
from veracity.attr.perturbation.kernels import (
    BernoulliSampler,
    ExpKernelSimilarity,
    KernelShapSampler,
    ShapleyKernelWeight,
    get_exp_kernel_similarity_function,
)
from veracity.attr.perturbation.lime import KernelShap, Lime, LimeBase
from veracity.attr.perturbation.permutation import FeaturePermutation
from veracity.attr.perturbation.rise import RISE
from veracity.attr.perturbation.shapley import ShapleyValues, ShapleyValueSampling
from veracity.attr.perturbation.solvers import TorchLasso, TorchLinearRegression, TorchRidge, fit_surrogates

__all__ = [
    "BernoulliSampler",
    "DataLoaderAttribution",
    "ExpKernelSimilarity",
    "FeatureAblation",
    "FeaturePermutation",
    "KernelShap",
    "KernelShapSampler",
    "Lime",
    "LimeBase",
    "Occlusion",
    "ProductBaselines",
    "RISE",
    "ShapleyKernelWeight",
    "ShapleyValueSampling",
    "ShapleyValues",
    "TorchLasso",
    "TorchLinearRegression",
    "TorchRidge",
    "fit_surrogates",
    "get_exp_kernel_similarity_function",
]
