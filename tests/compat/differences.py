"""Where veracity's public signatures deliberately differ from Captum 0.9's, with the reason.

Read by ``test_captum_api.py`` (the introspection test) and listed in the README's "What is
different from Captum". Keys are ``(public name or "*", method, parameter)``; ``"*"`` applies
to every class that has that method and parameter.
"""

from __future__ import annotations

# Captum's default differs; veracity's default is documented in the class docstring.
DEFAULTS: dict[tuple[str, str, str], str] = {
    ("*", "attribute", "perturbations_per_eval"):
        "None: the engine picks the number of perturbed copies per model call from the memory "
        "budget (Captum: 1, one copy per call); any int given is honoured",
    ("*", "attribute_future", "perturbations_per_eval"): "as attribute",
    ("DataLoaderAttribution", "attribute", "perturbations_per_pass"):
        "None: every perturbation in one traversal of the DataLoader (Captum: 1, one traversal per "
        "feature); within a batch the engine stacks them in chunks",
    ("ImageMaskInput", "__init__", "processor_fn"):
        "the identity, as Captum's, but a named function (Captum's is a lambda: never equal by identity)",
    ("FeaturePermutation", "__init__", "perm_func"):
        "None stands for the default permutation (a random permutation across the batch, drawn "
        "from `generator`), so the permutation is reproducible under a seed",
}

# Public methods of Captum's classes that veracity leaves out, and why.
METHODS: dict[tuple[str, str], str] = {
    **{(name, "satisfies_attribute_criteria"):
       "DeepLift intercepts activation calls (functional ones included), not modules: there is no "
       "per-module criterion to ask"
       for name in ("DeepLift", "DeepLiftShap", "LayerDeepLift", "LayerDeepLiftShap")},
    ("KernelShap", "kernel_shap_similarity_kernel"):
        "Captum's internal hook into LimeBase; veracity's Shapley kernel is ShapleyKernelWeight",
    ("KernelShap", "kernel_shap_perturb_generator"):
        "Captum's internal hook into LimeBase; veracity's sampler is KernelShapSampler",
    ("LayerFeaturePermutation", "attribute_future"):
        "Captum inherits FeaturePermutation's, which permutes the inputs, not the layer; veracity raises "
        "NotImplementedError instead of computing something else",
}

# Public names of captum.attr checked elsewhere instead of here (none: every name is checked).
OTHER_ISSUES: dict[str, str] = {}
