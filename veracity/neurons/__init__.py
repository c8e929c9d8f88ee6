"""Neuron analysis over any layer (the NAACL 2021 tutorial's toolkit, NeuroX's recipes, PCACE).

Activations of many layers in one engine pass (:func:`layer_activations`, token activations of
text encoders with :func:`token_activations`); torch-native elastic-net linear probes
(:func:`train_probe`); rankings by probe weight mass (:func:`top_neurons`,
:func:`neuron_ordering`), hard threshold, bottom, probeless (:func:`probeless_ordering`);
ablation tables for probes and the model; PCACE (:func:`pcace_ranking`).
"""

from veracity.neurons.ablation import (
    AblationTable,
    ablation_table,
    filter_neurons,
    keep_neurons,
    model_ablation,
    zero_neurons,
)
from veracity.neurons.activations import layer_activations, named_layers, token_activations
from veracity.neurons.pcace import PCACEResult, maximal_correlation, pcace_ranking
from veracity.neurons.probe import LinearProbe, train_probe
from veracity.neurons.ranking import (
    bottom_neurons,
    neuron_ordering,
    probeless_ordering,
    random_neurons,
    top_neurons,
    top_neurons_hard_threshold,
)

__all__ = ["AblationTable", "LinearProbe", "PCACEResult", "ablation_table", "bottom_neurons", "filter_neurons",
           "keep_neurons", "layer_activations", "maximal_correlation", "model_ablation", "named_layers",
           "neuron_ordering", "pcace_ranking", "probeless_ordering", "random_neurons", "token_activations",
           "top_neurons", "top_neurons_hard_threshold", "train_probe", "zero_neurons"]
