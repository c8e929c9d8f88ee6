"""The CAM family: one activation-map combiner, weighted per method (gradients, scores, ablation)."""

from veracity.attr.cam.gradient_cams import (
    LayerCam,
    LayerEigenCam,
    LayerGradCam,
    LayerGradCamPlusPlus,
    LayerHiResCam,
    LayerXGradCam,
)
from veracity.attr.cam.guided import GuidedGradCam
from veracity.attr.cam.mabcam import LayerMabCam
from veracity.attr.cam.perturbation_cams import LayerAblationCam, LayerScoreCam

__all__ = [
    "GuidedGradCam",
    "LayerAblationCam",
    "LayerCam",
    "LayerEigenCam",
    "LayerGradCam",
    "LayerGradCamPlusPlus",
    "LayerHiResCam",
    "LayerMabCam",
    "LayerScoreCam",
    "LayerXGradCam",
]
