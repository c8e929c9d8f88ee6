"""Training and model changes from the seed papers: saliency-guided training (a loss and a step
usable in any loop) and the smoothing conversion (ReLU -> Softplus, MaxPool -> log-sum-exp)."""

from veracity.training.saliency_guided import (
    SaliencyGuidedLoss,
    mask_lowest_saliency,
    saliency_guided_loss,
    saliency_guided_step,
)
from veracity.training.smoothing import LogSumExpPool2d, smooth_model

__all__ = [
    "LogSumExpPool2d",
    "SaliencyGuidedLoss",
    "mask_lowest_saliency",
    "saliency_guided_loss",
    "saliency_guided_step",
    "smooth_model",
]
