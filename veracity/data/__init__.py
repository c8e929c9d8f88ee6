"""Small real and synthetic data sets that need no download."""

from veracity.data.digits import DigitsCNN, load_digits, train_digits_cnn

__all__ = ["DigitsCNN", "load_digits", "train_digits_cnn"]
