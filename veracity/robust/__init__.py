"""Robustness (Captum's ``captum.robust``): FGSM, PGD, the attack comparator, the minimal
parameter search; and attacks on explanations (Ghorbani et al. 2019)."""

from veracity.robust.comparator import AttackComparator
from veracity.robust.fgsm import FGSM
from veracity.robust.fragility import FragilityResult, explanation_attack, random_sign_perturbation, softplus_surrogate
from veracity.robust.fragility_metrics import center_shift, saliency_image, spearman, top_k_intersection
from veracity.robust.min_param import MinParamPerturbation
from veracity.robust.perturbation import Perturbation
from veracity.robust.pgd import PGD

__all__ = [
    "AttackComparator", "FGSM", "FragilityResult", "MinParamPerturbation", "PGD", "Perturbation", "center_shift",
    "explanation_attack", "random_sign_perturbation", "saliency_image", "softplus_surrogate", "spearman",
    "top_k_intersection",
]
