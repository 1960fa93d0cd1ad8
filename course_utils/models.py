"""Small models for the course, built from the block the course teaches:

    Linear -> [BatchNorm | LayerNorm] -> activation -> [Dropout]

``make_mlp`` is the one place that assembles it, so every notebook compares like with like.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from . import norms
from .env import manual_seed
from .validation import check_bool, check_choice, check_int, check_positive, check_probability

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "identity": nn.Identity}
NORMS = (None, *norms.mlp_norms())
"""``norm=`` values: None, then every registered layer that make_mlp builds (course_utils.norms)."""
BLOCK_PARTS = ("norm", "activation", "dropout")
DEFAULT_BLOCK = BLOCK_PARTS
"""What follows each hidden Linear, in order: the course's block Linear -> norm -> activation -> dropout."""
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
    block: tuple[str, ...] | list[str] = DEFAULT_BLOCK,
    linear_bias: bool = True,
    groups: int = 4,
    norm_kwargs: dict | None = None,
) -> nn.Sequential:
    """A multi-layer perceptron made of ``Linear -> norm -> activation -> Dropout`` blocks.

    Args:
        hidden: widths of the hidden layers, e.g. ``[100, 100, 100]``.
        activation: 'relu', 'tanh', 'sigmoid' or 'identity'.
        norm: None, 'batch' (BatchNorm1d), 'layer' (LayerNorm), 'group' (GroupNorm with ``groups``
            groups) or 'rms' (RMSNorm); placed as ``block`` says (default: between Linear and activation).
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
        block: the order of what follows each hidden Linear, a permutation of
            ``("norm", "activation", "dropout")`` (parts that are switched off are skipped). The default is
            the course's block; ``("activation", "norm", "dropout")`` puts the norm after the activation,
            ``("dropout", "norm", "activation")`` puts dropout before the norm (Li et al. 2019's variance shift).
        linear_bias: give the hidden Linear layers a bias. A bias right before BatchNorm is redundant (the
            mean subtraction removes it), so ``linear_bias=False`` is the usual choice with ``norm='batch'``.
        groups: number of groups for ``norm='group'`` (must divide every hidden width).
        norm_kwargs: extra constructor arguments for the norm layers, e.g. ``{"momentum": None}``.
    """
    in_features = check_int("in_features", in_features, minimum=1)
    out_features = check_int("out_features", out_features, minimum=1)
    hidden = _check_hidden(hidden)
    check_choice("activation", activation, ACTIVATIONS)
    check_choice("norm", norm, NORMS)
    check_choice("init", init, INITS)
    block = _check_block(block)
    linear_bias = check_bool("linear_bias", linear_bias)
    groups = _check_norm_options(norm, hidden, groups, norm_kwargs)
    check_probability("dropout", dropout)
    check_probability("input_dropout", input_dropout)
    check_positive("gain", gain)
    check_positive("std", std)
    reference_layers = check_bool("reference_layers", reference_layers)
    fast = _check_fast(fast, reference_layers)
    if seed is not None:
        manual_seed(check_int("seed", seed, minimum=0))

    layers_mod = _layer_module(reference_layers)
    layers: list[nn.Module] = []
    if input_dropout > 0:
        layers.append(layers_mod.Dropout(input_dropout))
    width = in_features
    for h in hidden:
        layers.append(nn.Linear(width, h, bias=linear_bias))
        for part in block:
            if part == "norm" and norm is not None:
                layers.append(_norm_layer(norm, reference_layers, h, groups, norm_kwargs or {}))
            elif part == "activation":
                layers.append(ACTIVATIONS[activation]())
            elif part == "dropout" and dropout > 0:
                layers.append(layers_mod.Dropout(dropout))
        width = h
    layers.append(nn.Linear(width, out_features))
    if fast:
        _pin_fast_path(layers)
    model = nn.Sequential(*layers)
    if init != "default" or gain != 1.0:
        initialize(model, init=init, gain=gain, std=std)
    return model


def _check_norm_options(norm: str | None, hidden: list[int], groups, norm_kwargs) -> int:
    groups = check_int("groups", groups, minimum=1)
    if norm == "group":
        for i, width in enumerate(hidden):
            if width % groups:
                raise ValueError(
                    f"groups={groups} must divide every hidden width, but hidden[{i}]={width}: "
                    "choose groups from the common divisors of the widths."
                )
    if norm_kwargs is not None and not isinstance(norm_kwargs, dict):
        raise TypeError(f"norm_kwargs must be a dict of constructor arguments or None, got {norm_kwargs!r}.")
    if norm is None and norm_kwargs:
        raise ValueError(
            f"norm_kwargs={norm_kwargs!r} would be ignored: there is no norm layer (norm=None). "
            f"Pass norm={_one_of(NORMS[1:])}, or drop norm_kwargs."
        )
    return groups


def _check_fast(fast, reference_layers: bool) -> bool:
    if check_bool("fast", fast) and not reference_layers:
        raise ValueError(
            "fast=True only applies to the course's own layers: pass reference_layers=True as well "
            "(torch.nn's layers are already fast)."
        )
    return fast


def _pin_fast_path(layers: list[nn.Module]) -> None:
    from .nn_fast import has_fast_path

    for layer in layers:
        if has_fast_path(layer):  # exactly the classes with a fast path, never a subclass
            layer.fast = True


def _one_of(options) -> str:
    quoted = [repr(option) for option in options]
    return ", ".join(quoted[:-1]) + " or " + quoted[-1]


def _check_hidden(hidden) -> list[int]:
    # numpy integers (np.int64 from np.arange, a grid, ...) are as good as Python ints.
    if not isinstance(hidden, list | tuple):
        raise TypeError(
            f"hidden must be a list of ints (hidden layer widths, e.g. [64, 64]; [] for no hidden layer), "
            f"got {type(hidden).__name__} {hidden!r}."
        )
    return [check_int(f"hidden[{i}]", width, minimum=1) for i, width in enumerate(hidden)]


def _check_block(block) -> tuple[str, ...]:
    if isinstance(block, str) or not isinstance(block, list | tuple):
        raise TypeError(f"block must be a tuple such as {DEFAULT_BLOCK}, got {block!r}.")
    if sorted(block) != sorted(BLOCK_PARTS):
        raise ValueError(
            f"block must be an ordering of {BLOCK_PARTS}, each exactly once, got {tuple(block)!r}. "
            "Parts that are switched off (norm=None, dropout=0) are skipped automatically."
        )
    return tuple(block)


def _norm_layer(norm: str, reference_layers: bool, width: int, groups: int, kwargs: dict) -> nn.Module:
    entry = norms.mlp_norms()[norm]
    cls = entry.course_class if reference_layers else entry.reference  # the registry's reference, e.g. torch.nn's
    return cls(*entry.mlp_args(width, groups), **kwargs)


def _layer_module(reference_layers: bool):
    if reference_layers:
        from . import nn as course_nn

        return course_nn
    return nn


def init_std(init: str, fan_in: int, fan_out: int, gain: float = 1.0, std: float = 0.01) -> float:
    """The weight standard deviation an init scheme gives a layer with these fans."""
    check_choice("init", init, INITS)
    fan_in = check_int("fan_in", fan_in, minimum=1)
    fan_out = check_int("fan_out", fan_out, minimum=1)
    gain = check_positive("gain", gain)
    std = check_positive("std", std)
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
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module (e.g. from make_mlp), got {type(model).__name__}.")
    check_choice("init", init, INITS)
    check_positive("gain", gain)
    check_positive("std", std)
    for module in model.modules():
        if isinstance(module, nn.Linear):
            sd = init_std(init, module.in_features, module.out_features, gain, std)
            module.weight.normal_(0.0, sd)
            if module.bias is not None:
                module.bias.zero_()
    return model
