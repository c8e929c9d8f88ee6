"""Small real and synthetic data sets that need no download, and toy models for examples."""

from veracity.data.digits import DigitsCNN, load_digits, train_digits_cnn
from veracity.data.toy import toy_cnn, toy_mlp

__all__ = ["DigitsCNN", "load_digits", "toy_cnn", "toy_mlp", "train_digits_cnn"]
