"""Interpretable inputs (Captum 0.9's names): what a feature of a prompt is, and how a
presence/absence vector turns back into a model input.

The interpretable representation ``x'`` is a ``(1, n_itp_features)`` tensor of ones (every
feature present); a perturbation method sets entries to 0 (absent: replaced by the baseline);
``to_model_input`` maps a perturbed ``x'`` back to the model's input (LIME's ``h_x(x')``).
Beyond Captum, the text inputs map a whole stack of perturbed rows at once
(:meth:`TextTemplateInput.to_model_inputs`, :meth:`TextTokenInput.to_model_inputs`), so
``LLMAttribution`` can score them in one forward pass.
"""

from __future__ import annotations

import string
from abc import ABC, abstractmethod
from typing import Any, Callable

import torch
from torch import Tensor

from veracity._core.validate import fail

Values = list[str] | dict[str, str]


class InterpretableInput(ABC):
    """An input whose interpretable features are switched on and off by a binary vector.

    ``n_itp_features`` and ``values`` (a name per feature) describe the features;
    :meth:`to_tensor` gives the all-present vector, :meth:`to_model_input` the model input
    for a perturbed one, :meth:`format_attr` maps feature attributions back (e.g. from mask
    groups to the original segments). Ribeiro et al. 2016 / Lundberg & Lee 2017.

    Example:
        >>> class Words(InterpretableInput):
        ...     def __init__(self, words):
        ...         self.values, self.n_itp_features = words, len(words)
        ...     def to_tensor(self):
        ...         return torch.ones(1, self.n_itp_features)
        ...     def to_model_input(self, perturbed_tensor=None):
        ...         keep = self.to_tensor() if perturbed_tensor is None else perturbed_tensor
        ...         return " ".join(w for w, k in zip(self.values, keep[0]) if k)
        >>> Words(["a", "b", "c"]).to_model_input(torch.tensor([[1, 0, 1]]))
        'a c'
    """

    n_itp_features: int
    values: list[str]

    @abstractmethod
    def to_tensor(self) -> Tensor:
        """The interpretable representation, ``(1, n_itp_features)``, all features present."""

    @abstractmethod
    def to_model_input(self, perturbed_tensor: Tensor | None = None) -> Any:
        """The model input for a perturbed representation (its first row); None: the original."""

    def format_attr(self, itp_attr: Tensor) -> Tensor:
        """Attributions of the interpretable features in the form users read (identity here)."""
        return itp_attr


def _template_slots(template: str) -> tuple[int, list[str]]:
    """``(positional slots, named slots)`` of a ``str.format`` template."""
    automatic, explicit, named = 0, -1, []
    try:
        fields = [field for _, field, _, _ in string.Formatter().parse(template) if field is not None]
    except ValueError as error:
        fail("template", "a str.format template", f"{template!r} ({error})")
    for field in fields:
        head = field.split(".")[0].split("[")[0]
        if head == "":
            automatic += 1
        elif head.isdigit():
            explicit = max(explicit, int(head))
        else:
            named.append(head)
    if automatic and explicit >= 0:
        fail("template", "either automatic ({}) or numbered ({0}) slots", repr(template))
    return max(automatic, explicit + 1), named


class TextTemplateInput(InterpretableInput):
    """Text whose features are the values filling a template's slots.

    ``template`` is a ``str.format`` string with positional (``{}``, ``{0}``) or named
    (``{name}``) slots, or a callable that builds the text from the values; ``values`` a list
    (positional) or dict (named); ``baselines`` the text of an absent value (None: the empty
    string), in the same form, or a callable returning one set (called once per perturbation,
    for random baselines); ``mask`` groups values into features (values with the same id are
    switched together and get the same attribution). The slots of a string template must match
    the values exactly (ValueError naming ``values`` otherwise).

    Example:
        >>> inp = TextTemplateInput("{} feels {} right now", ["He", "depressed"], baselines=["It", "neutral"])
        >>> inp.to_tensor()
        tensor([[1., 1.]])
        >>> inp.to_model_input(torch.tensor([[0, 1]]))
        'It feels depressed right now'
    """

    def __init__(self, template: str | Callable[..., str], values: Values,
                 baselines: Values | Callable[[], Values] | None = None,
                 mask: list[int] | dict[str, int] | None = None) -> None:
        if isinstance(values, dict):
            self.dict_keys = list(values)
            self.values = [values[k] for k in self.dict_keys]
        elif isinstance(values, list):
            self.dict_keys, self.values = [], list(values)
        else:
            fail("values", "a list or a dict of strings", values, TypeError)
        if isinstance(template, str):
            self._check_slots(template)
            self.format_fn: Callable[..., str] = template.format
        elif callable(template):
            self.format_fn = template
        else:
            fail("template", "a str.format string or a callable", template, TypeError)
        self.template = template
        self.n_features = len(self.values)
        self.baselines: list[str] | Callable[[], Values] = (
            baselines if callable(baselines) else self._as_list("baselines", baselines, [""] * self.n_features))
        self.mask = mask
        if mask is None:
            self.formatted_mask = list(range(self.n_features))
        else:
            ids = self._as_list("mask", mask, None)
            order = {group: i for i, group in enumerate(sorted(set(ids)))}
            self.formatted_mask = [order[group] for group in ids]
        self.n_itp_features = max(self.formatted_mask, default=-1) + 1

    def _check_slots(self, template: str) -> None:
        positional, named = _template_slots(template)
        if self.dict_keys:
            if positional or set(named) != set(self.dict_keys):
                fail("values", f"one value per slot of the template {template!r} (slots: "
                     f"{sorted(set(named))}{', plus positional ones' if positional else ''})",
                     f"values for {sorted(self.dict_keys)}")
        elif named or positional != len(self.values):
            fail("values", f"{positional} values for the {positional} positional slots of the template "
                 f"{template!r}" + (f" (it also has named slots {sorted(set(named))}: pass a dict)" if named else ""),
                 f"{len(self.values)} values")

    def _as_list(self, name: str, given: Any, default: list | None) -> list:
        if given is None:
            assert default is not None
            return default
        if self.dict_keys:
            if not isinstance(given, dict) or set(given) != set(self.dict_keys):
                fail(name, f"a dict with the keys of values ({sorted(self.dict_keys)})", given, TypeError)
            return [given[k] for k in self.dict_keys]
        if not isinstance(given, list) or len(given) != self.n_features:
            fail(name, f"a list of {self.n_features} entries, one per value", given, TypeError)
        return list(given)

    def to_tensor(self) -> Tensor:
        return torch.ones(1, self.n_itp_features)

    def _fill(self, values: list[str]) -> str:
        if self.dict_keys:
            return self.format_fn(**dict(zip(self.dict_keys, values)))
        return self.format_fn(*values)

    def to_model_input(self, perturbed_tensor: Tensor | None = None) -> str:
        if perturbed_tensor is None:
            return self._fill(self.values)
        return self.to_model_inputs(perturbed_tensor[:1])[0]

    def to_model_inputs(self, perturbed_tensor: Tensor) -> list[str]:
        """The text of every row of a ``(rows, n_itp_features)`` perturbed representation."""
        present = (perturbed_tensor != 0).cpu()
        texts = []
        for row in present:
            baselines = (self._as_list("baselines", self.baselines(), None) if callable(self.baselines)
                         else self.baselines)
            texts.append(self._fill([v if bool(row[g]) else b
                                     for v, b, g in zip(self.values, baselines, self.formatted_mask)]))
        return texts

    def format_attr(self, itp_attr: Tensor) -> Tensor:
        """Feature attributions spread back to the values: ``(..., n_features)``."""
        if self.mask is None:
            return itp_attr
        return itp_attr[..., torch.tensor(self.formatted_mask, device=itp_attr.device)]


class TextTokenInput(InterpretableInput):
    """Text whose features are its tokens under ``tokenizer``.

    The model input is the token ids (``tokenizer.encode(text, return_tensors="pt")``); an
    absent token is replaced by ``baselines`` (a token id, or a token string; default id 0,
    usually the unknown token). ``skip_tokens`` (ids or token strings, e.g. a BOS token) stay
    in the prompt but are not features.

    Example:
        >>> from veracity.text.tiny import word_tokenizer
        >>> tokenizer = word_tokenizer("this is a test".split())
        >>> inp = TextTokenInput("this is a test", tokenizer, baselines="[UNK]")
        >>> inp.values
        ['this', 'is', 'a', 'test']
        >>> inp.to_model_input(torch.tensor([[1, 0, 1, 1]])).tolist()
        [[2, 0, 4, 5]]
    """

    def __init__(self, text: str, tokenizer: Any, baselines: int | str = 0,
                 skip_tokens: list[int] | list[str] | None = None) -> None:
        if not isinstance(text, str):
            fail("text", "a string", text, TypeError)
        self.inp_tensor: Tensor = tokenizer.encode(text, return_tensors="pt")
        self.tokenizer = tokenizer
        self.skip_tokens = skip_tokens
        self.itp_mask: Tensor | None = None
        self.itp_tensor = self.inp_tensor
        if skip_tokens:
            skip_ids = (tokenizer.convert_tokens_to_ids(list(skip_tokens)) if isinstance(skip_tokens[0], str)
                        else list(skip_tokens))
            self.itp_mask = ~torch.isin(self.inp_tensor, torch.tensor(skip_ids, dtype=self.inp_tensor.dtype))
            self.itp_tensor = self.inp_tensor[self.itp_mask].unsqueeze(0)
        self.values = tokenizer.convert_ids_to_tokens(self.itp_tensor[0].tolist())
        self.n_itp_features = len(self.values)
        if isinstance(baselines, str):
            converted = tokenizer.convert_tokens_to_ids([baselines])[0]
            if converted is None:
                fail("baselines", "a token of the tokenizer's vocabulary or a token id", repr(baselines))
            baselines = int(converted)
        elif isinstance(baselines, bool) or not isinstance(baselines, int):
            fail("baselines", "a token id (int) or a token string", baselines, TypeError)
        self.baselines: int = baselines

    def to_tensor(self) -> Tensor:
        return torch.ones_like(self.itp_tensor)

    def to_model_input(self, perturbed_tensor: Tensor | None = None) -> Tensor:
        if perturbed_tensor is None:
            return self.inp_tensor
        return self.to_model_inputs(perturbed_tensor)

    def to_model_inputs(self, perturbed_tensor: Tensor) -> Tensor:
        """Token ids ``(rows, n_tokens)`` of a ``(rows, n_itp_features)`` perturbed representation
        (an entry other than 1 replaces its token by the baseline)."""
        device = perturbed_tensor.device
        rows = perturbed_tensor.shape[0]
        kept = self.itp_tensor.to(device).expand(rows, -1)
        tokens = torch.where(perturbed_tensor != 1, torch.full_like(kept, self.baselines), kept)
        if self.itp_mask is None:
            return tokens
        full = self.inp_tensor.to(device).expand(rows, -1).clone()
        full[self.itp_mask.to(device).expand(rows, -1)] = tokens.reshape(-1)
        return full
