"""Robustness (Captum's ``captum.robust``): FGSM, PGD, the attack comparator, the minimal
parameter search; and attacks on explanations (Ghorbani et al. 2019)."""

from veracity.robust.comparator import AttackComparator
from veracity.robust.fgsm import FGSM
from veracity.robust.min_param import MinParamPerturbation
from veracity.robust.perturbation import Perturbation
from veracity.robust.pgd import PGD

__all__ = ["AttackComparator", "FGSM", "MinParamPerturbation", "PGD", "Perturbation"]
