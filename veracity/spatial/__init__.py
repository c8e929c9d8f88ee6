"""Spatial bias in CNNs ("Mind the Pad", Alsallakh et al., ICLR 2021): mean feature maps, the
uneven-padding detector, mean-filter asymmetry and foveation maps, with figures."""

from veracity.spatial.maps import filter_asymmetry, foveation_map, map_asymmetry, mean_feature_maps
from veracity.spatial.padding import PaddingRow, conv_output_size, leftover, padding_report, padding_table
from veracity.spatial.plot import plot_filters, plot_foveation, plot_mean_feature_maps

__all__ = ["PaddingRow", "conv_output_size", "filter_asymmetry", "foveation_map", "leftover", "map_asymmetry",
           "mean_feature_maps", "padding_report", "padding_table", "plot_filters", "plot_foveation",
           "plot_mean_feature_maps"]
