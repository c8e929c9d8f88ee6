"""Captum Insights' names on veracity's maintained web app: ``AttributionVisualizer(models,
classes, features, dataset, score_func)``, ``Batch``, ``ImageFeature``, ``TextFeature``,
``GeneralFeature``; ``.serve(port=...)`` and ``.render()`` (notebooks). The app (Starlette
and uvicorn, the ``app`` extra; a static page with no build step) binds 127.0.0.1 unless
given a token, limits request sizes and answers bad requests with 4xx and a message."""

from veracity.insights.features import Batch, GeneralFeature, ImageFeature, TextFeature
from veracity.insights.visualizer import AttributionVisualizer

__all__ = ["AttributionVisualizer", "Batch", "GeneralFeature", "ImageFeature", "TextFeature"]
