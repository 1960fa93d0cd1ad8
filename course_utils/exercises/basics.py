"""Checks for notebook 00's exercise."""

from __future__ import annotations

from . import ok, require


def check_batchnorm_state(parameter_names: list[str], buffer_names: list[str]) -> None:
    """Exercise 0.1: the learnable parameters and the buffers of a BatchNorm layer."""
    require(isinstance(parameter_names, list | tuple), "parameter_names should be a list of names (strings).")
    require(isinstance(buffer_names, list | tuple), "buffer_names should be a list of names (strings).")
    require(
        sorted(parameter_names) == ["bias", "weight"],
        "Learnable parameters are what the optimizer updates: gamma is stored as 'weight', beta as 'bias'. "
        "Try bn.named_parameters().",
    )
    require(
        sorted(buffer_names) == ["num_batches_tracked", "running_mean", "running_var"],
        "Buffers hold the running statistics used at inference (and a counter). Try bn.named_buffers().",
    )
    ok("gamma/beta are learned ('weight', 'bias'); running_mean/running_var/num_batches_tracked are buffers.")
