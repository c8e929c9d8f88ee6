"""The machinery shared by the metric categories (private to :mod:`veracity.metrics`).

``curves``: the perturbation engine (masks over the batch evaluated in budgeted chunks, ordered
curves); ``subsets``: random subsets and single groups on it; ``imputation``: ROAD's noisy
linear imputation; ``perturbed``: explanations of perturbed copies; ``explain``: what the
metrics accept as an explanation method; ``stats``: row statistics (ranks, correlations, AUC);
``captum_batches``: how Captum's metrics split their samples.
"""
