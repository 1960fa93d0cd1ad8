"""Small models for the course, built from the block the course teaches:

    Linear -> [BatchNorm | LayerNorm] -> activation -> [Dropout]

``make_mlp`` is the one place that assembles it, so every notebook compares like with like.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .validation import check_bool, check_choice, check_int, check_positive, check_probability

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "identity": nn.Identity}
NORMS = (None, "batch", "layer")
INITS = ("default", "xavier", "kaiming", "normal")


def make_mlp(
    in_features: int,
    hidden: list[int] | tuple[int, ...],
    out_features: int,
    *,
    activation: str = "relu",
    norm: str | None = None,
    dropout: float = 0.0,
    input_dropout: float = 0.0,
    init: str = "default",
    gain: float = 1.0,
    std: float = 0.01,
    reference_layers: bool = False,
    fast: bool = False,
    seed: int | None = None,
) -> nn.Sequential:
    """A multi-layer perceptron made of ``Linear -> norm -> activation -> Dropout`` blocks.

    Args:
        hidden: widths of the hidden layers, e.g. ``[100, 100, 100]``.
        activation: 'relu', 'tanh', 'sigmoid' or 'identity'.
        norm: None, 'batch' (BatchNorm1d between Linear and activation) or 'layer' (LayerNorm).
        dropout: drop probability after each hidden activation (0 = no Dropout layer).
        input_dropout: drop probability on the inputs (Srivastava et al. used ~0.2).
        init: 'default' (PyTorch's), 'xavier' (std = gain*sqrt(2/(fan_in+fan_out))),
            'kaiming' (std = gain*sqrt(2/fan_in)) or 'normal' (std = gain*``std``).
        gain: multiplies the init's standard deviation (0.5 = "too small", 2 = "too large").
        reference_layers: use the course's own ``course_utils.nn`` layers instead of torch.nn.
        fast: with ``reference_layers=True``, pin the course's BatchNorm/LayerNorm to their fast path
            (same numbers, hand-written backward: see ``course_utils.nn.fast_path``), for notebooks
            that train many models.
        seed: if given, the weights are drawn from ``torch.manual_seed(seed)``.
    """
    in_features = check_int("in_features", in_features, minimum=1)
    out_features = check_int("out_features", out_features, minimum=1)
    if isinstance(hidden, int) or not all(isinstance(h, int) for h in hidden):
        raise TypeError(f"hidden must be a list of ints (layer widths), got {hidden!r}.")
    for i, width in enumerate(hidden):
        check_int(f"hidden[{i}]", width, minimum=1)
    check_choice("activation", activation, ACTIVATIONS)
    check_choice("norm", norm, NORMS)
    check_choice("init", init, INITS)
    check_probability("dropout", dropout)
    check_probability("input_dropout", input_dropout)
    check_positive("gain", gain)
    check_positive("std", std)
    if check_bool("fast", fast) and not check_bool("reference_layers", reference_layers):
        raise ValueError(
            "fast=True only applies to the course's own layers: pass reference_layers=True as well "
            "(torch.nn's layers are already fast)."
        )
    if seed is not None:
        torch.manual_seed(check_int("seed", seed, minimum=0))

    layers_mod = _layer_module(reference_layers)
    layers: list[nn.Module] = []
    if input_dropout > 0:
        layers.append(layers_mod.Dropout(input_dropout))
    width = in_features
    for h in hidden:
        layers.append(nn.Linear(width, h))
        if norm == "batch":
            layers.append(layers_mod.BatchNorm1d(h))
        elif norm == "layer":
            layers.append(layers_mod.LayerNorm(h))
        layers.append(ACTIVATIONS[activation]())
        if dropout > 0:
            layers.append(layers_mod.Dropout(dropout))
        width = h
    layers.append(nn.Linear(width, out_features))
    if fast:
        for layer in layers:
            if hasattr(type(layer), "fast"):
                layer.fast = True
    model = nn.Sequential(*layers)
    if init != "default" or gain != 1.0:
        initialize(model, init=init, gain=gain, std=std)
    return model


def _layer_module(reference_layers: bool):
    if reference_layers:
        from . import nn as course_nn

        return course_nn
    return nn


def init_std(init: str, fan_in: int, fan_out: int, gain: float = 1.0, std: float = 0.01) -> float:
    """The weight standard deviation an init scheme gives a layer with these fans."""
    check_choice("init", init, INITS)
    if init == "xavier":
        return gain * math.sqrt(2.0 / (fan_in + fan_out))
    if init == "kaiming":
        return gain * math.sqrt(2.0 / fan_in)
    if init == "normal":
        return gain * std
    return gain / math.sqrt(3.0 * fan_in)  # PyTorch's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))


@torch.no_grad()
def initialize(model: nn.Module, init: str = "kaiming", gain: float = 1.0, std: float = 0.01) -> nn.Module:
    """Redraw every Linear layer's weights from N(0, init_std^2) and zero its bias (in place)."""
    check_choice("init", init, INITS)
    check_positive("gain", gain)
    for module in model.modules():
        if isinstance(module, nn.Linear):
            sd = init_std(init, module.in_features, module.out_features, gain, std)
            module.weight.normal_(0.0, sd)
            if module.bias is not None:
                module.bias.zero_()
    return model
