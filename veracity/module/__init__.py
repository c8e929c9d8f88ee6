"""Learnable stochastic feature gates (Captum 0.9's ``captum.module``)."""

from veracity.module.gates import BinaryConcreteStochasticGates, GaussianStochasticGates, StochasticGatesBase

__all__ = ["BinaryConcreteStochasticGates", "GaussianStochasticGates", "StochasticGatesBase"]
