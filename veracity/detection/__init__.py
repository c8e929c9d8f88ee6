"""Explaining object detectors (DExT, Padmanabhan et al. 2023): every detection's class score
and each of its box coordinates, with the gradient and perturbation families of ``veracity.attr``.

**The detector contract** (dense head, before NMS): ``detector(images)`` returns ``(boxes,
scores)`` or ``{"boxes": ..., "scores": ...}``, boxes ``(batch, slots, 4)`` as ``x1, y1, x2, y2``
in pixels and scores ``(batch, slots, classes)``. :class:`DetectorOutputs` turns it into one
explainable output ``(batch, slots, 4 + classes)``; :func:`detect` keeps each slot's best class
above a threshold after NMS, and each :class:`Detections` remembers its slots, so that
:func:`explain_detections` explains the same prediction on every perturbed input.

Also: a synthetic scenes generator with ground-truth boxes (:func:`make_scenes`), a small
detector built in code (:class:`TinyDetector`, :func:`train_tiny_detector`), the fraction of
attribution inside a detection's box (:func:`box_mass_fraction`), DExT's multi-object merges
(:func:`merge_maps`) and a figure with one panel per detection
(:func:`plot_detection_explanations`, needs matplotlib).

Example:
    >>> import torch
    >>> from veracity.attr import IntegratedGradients
    >>> from veracity.detection import DetectorOutputs, TinyDetector, Detections, explain_detections
    >>> head = DetectorOutputs(TinyDetector().eval())
    >>> found = [Detections.of([[8.0, 8.0, 16.0, 16.0]], labels=[3], slots=[18])]
    >>> maps = explain_detections(IntegratedGradients(head), torch.rand(1, 1, 32, 32), found, n_steps=8)
    >>> tuple(maps[0].shape)  # (detections, quantities: score x1 y1 x2 y2, 1, 32, 32)
    (1, 5, 1, 32, 32)
"""

from veracity._core.detection import BOX_COLUMNS, DetectorOutputs, split_output
from veracity.detection.detections import Detections, box_iou, box_masks, detect, non_maximum_suppression
from veracity.detection.explain import (
    QUANTITIES,
    box_mass_fraction,
    detection_targets,
    explain_detections,
    merge_maps,
)
from veracity.detection.model import TinyDetector
from veracity.detection.plot import plot_detection_explanations
from veracity.detection.scenes import Scenes, make_scenes
from veracity.detection.training import train_tiny_detector, training_targets

__all__ = ["BOX_COLUMNS", "QUANTITIES", "DetectorOutputs", "Detections", "Scenes", "TinyDetector",
           "box_iou", "box_masks", "box_mass_fraction", "detect", "detection_targets", "explain_detections",
           "make_scenes", "merge_maps", "non_maximum_suppression", "plot_detection_explanations",
           "split_output", "train_tiny_detector", "training_targets"]
