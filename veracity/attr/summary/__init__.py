"""Streaming statistics of attributions (Captum 0.9's summarizers and statistics)."""

from veracity.attr.summary.stats import (
    MSE,
    CommonStats,
    Count,
    Max,
    Mean,
    Min,
    StatValue,
    StdDev,
    Sum,
    Var,
)
from veracity.attr.summary.summarizers import ClassSummarizer, Summarizer, SummarizerSingleTensor

__all__ = ["ClassSummarizer", "CommonStats", "Count", "MSE", "Max", "Mean", "Min", "StatValue",
           "StdDev", "Sum", "Summarizer", "SummarizerSingleTensor", "Var"]
