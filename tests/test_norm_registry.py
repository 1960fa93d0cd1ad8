"""Every normalization layer registered in course_utils.norms gets every generic test: parity with its reference
(values, gradients, running statistics, state_dict, constructor signature), the bad-input errors, its plot style,
its numpy twin, its benchmark case. A layer of course_utils.nn that is not registered fails the first test."""

from __future__ import annotations

import dataclasses
import inspect

import numpy as np
import pytest
import torch

from course_utils import nn as cnn
from course_utils import norms
from course_utils.models import NORMS, make_mlp
from course_utils.nn_fast import FAST_CLASSES, has_fast_path
from course_utils.plots import color_for, style_for

SPECS = {entry.name: entry for entry in norms.REGISTRY}
by_name = pytest.mark.parametrize("entry", norms.REGISTRY, ids=lambda e: e.name)


def _norm_classes() -> set[str]:
    return {
        name for name in cnn.__all__
        if inspect.isclass(getattr(cnn, name)) and issubclass(getattr(cnn, name), torch.nn.Module) and "Norm" in name
    }  # fmt: skip


def test_every_norm_class_of_course_utils_nn_is_registered_once():
    assert sorted(_norm_classes()) == sorted(SPECS)
    assert len(SPECS) == len(norms.REGISTRY)


@by_name
def test_spec_is_complete(entry):
    # A layer registered without a reference (or a case) would skip the parity tests below: refuse it.
    assert entry.reference is not None, f"{entry.name} has no reference to be tested against"
    assert entry.course_class.__name__ == entry.name
    assert entry.stat_axes and entry.label and entry.aliases
    assert (entry.mlp_norm is None) == (entry.mlp_args is None)
    assert (entry.axes_method is None) == (entry.image_layer is None)
    assert (entry.numpy_forward is None) == (entry.numpy_backward is None)


def _pair(entry, dtype=torch.float64):
    ours = entry.case.build(entry.course_class, dtype=dtype)
    theirs = entry.case.build(entry.reference, dtype=dtype)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in theirs.parameters():
            p.copy_(torch.randn(p.shape, generator=generator, dtype=dtype) * 0.5 + 1.0)
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


@by_name
@pytest.mark.parametrize("fast", [False, True], ids=["readable", "fast"])
def test_matches_its_reference_over_training_steps_then_eval(entry, fast):
    ours, theirs = _pair(entry)
    if fast:
        if not has_fast_path(ours):
            pytest.skip(f"{entry.name} has no fast path")
        ours.fast = True
    generator = torch.Generator().manual_seed(2)
    for _ in range(3):
        x = torch.randn(entry.case.shape, generator=generator, dtype=torch.float64) * 3.0 + 5.0
        gout = torch.randn(entry.case.shape, generator=generator, dtype=torch.float64)
        xs = (x.clone().requires_grad_(True), x.clone().requires_grad_(True))
        outs = (ours(xs[0]), theirs(xs[1]))
        torch.testing.assert_close(outs[0], outs[1])
        for out in outs:
            (out * gout).sum().backward()
        torch.testing.assert_close(xs[0].grad, xs[1].grad)
        for a, b in zip(ours.parameters(), theirs.parameters(), strict=True):
            torch.testing.assert_close(a.grad, b.grad)
    for a, b in zip(ours.buffers(), theirs.buffers(), strict=True):
        torch.testing.assert_close(a, b)
    ours.eval(), theirs.eval()
    x = torch.randn(entry.case.shape, generator=generator, dtype=torch.float64)
    torch.testing.assert_close(ours(x), theirs(x))


@by_name
def test_state_dict_keys_and_repr_match_its_reference(entry):
    ours, theirs = _pair(entry)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    if entry.reference.__name__ == entry.name:  # SyncBatchNorm's reference is another class
        assert repr(ours) == repr(theirs)


@by_name
def test_constructor_signature_matches_torch(entry):
    # Its torch.nn namesake where torch has one (SyncBatchNorm's, although torch's refuses CPU), else its reference.
    theirs = getattr(torch.nn, entry.name, None) or entry.reference
    ours_params = inspect.signature(entry.course_class.__init__).parameters
    theirs_params = inspect.signature(theirs.__init__).parameters
    assert list(ours_params) == list(theirs_params)
    for name, param in theirs_params.items():
        assert (ours_params[name].default, ours_params[name].kind) == (param.default, param.kind), name


BAD_INPUTS = {
    "integer input": (lambda shape: torch.ones(shape, dtype=torch.long), TypeError, r"input.*floating"),
    "numpy input": (lambda shape: np.ones(shape), TypeError, r"input must be a torch.Tensor"),
    "float64 into float32": (lambda shape: torch.ones(shape, dtype=torch.float64), TypeError, r"input.*float64"),
}


@by_name
@pytest.mark.parametrize("bad", list(BAD_INPUTS))
def test_bad_input_is_refused_naming_the_argument(entry, bad):
    make, error, match = BAD_INPUTS[bad]
    layer = entry.case.build(entry.course_class, **({"affine": True} if "Instance" in entry.name else {}))
    with pytest.raises(error, match=match):
        layer(make(entry.case.shape))


@by_name
def test_negative_eps_is_refused_naming_eps(entry):
    with pytest.raises(ValueError, match="eps"):
        entry.case.build(entry.course_class, eps=-1.0)


@by_name
def test_plot_style_and_aliases_resolve_to_the_registered_style(entry):
    for name in (entry.label, entry.key, *entry.aliases):
        assert style_for(name) == {
            "color": entry.style.color, "linestyle": entry.style.linestyle, "marker": entry.style.marker
        }  # fmt: skip
        assert color_for(name) == entry.style.color
        assert norms.find(name).key == entry.key


@by_name
def test_numpy_twin_matches_the_layer_in_training(entry):
    if entry.numpy_forward is None:
        pytest.skip(f"{entry.name} has no numpy twin")
    ours, _ = _pair(entry)
    x = np.random.default_rng(3).normal(2.0, 3.0, size=entry.case.shape)
    np.testing.assert_allclose(entry.numpy_forward(x, ours), ours(torch.from_numpy(x)).detach().numpy(), atol=1e-10)


@by_name
def test_make_mlp_builds_it_from_both_libraries(entry):
    if entry.mlp_norm is None:
        pytest.skip(f"make_mlp does not build {entry.name}")
    assert entry.mlp_norm in NORMS
    for reference_layers, expected in ((False, entry.reference), (True, entry.course_class)):
        model = make_mlp(4, [8], 2, norm=entry.mlp_norm, groups=2, reference_layers=reference_layers)
        assert type(model[1]) is expected


@by_name
def test_axes_experiment_layer_normalizes_an_image_batch(entry):
    if entry.axes_method is None:
        pytest.skip(f"{entry.name} is not in the axes-of-statistics experiment")
    layer = entry.image_layer(4, 3, 2, 2)
    out = layer(torch.randn(3, 4, 3, 2, dtype=torch.float64) * 2 + 1)
    assert out.shape == (3, 4, 3, 2) and not list(layer.parameters())


@by_name
def test_bench_case_runs_on_both_layers(entry):
    case = dataclasses.replace(entry.bench, shape=(2, *entry.bench.shape[1:]))
    x = torch.randn(case.shape)
    assert entry.case.build(entry.course_class).__class__ is entry.course_class
    assert case.build(entry.course_class)(x).shape == case.build(entry.reference)(x).shape


# ------------------------------------------------------------------------------ the fast-path coupling


class _MedianBatchNorm(cnn.BatchNorm1d):
    """A planted subclass that overrides only its statistics (centres on the median)."""

    def _batch_statistics(self, x):
        centered = x - x.median(dim=0, keepdim=True).values
        return centered, (centered * centered).mean(dim=0, keepdim=True)


def test_a_subclass_that_overrides_its_statistics_never_runs_the_parents_fast_path():
    layer = _MedianBatchNorm(3, affine=False, track_running_stats=False)
    x = torch.tensor([[0.0, 1.0, 2.0], [1.0, 1.0, 2.0], [5.0, 4.0, 0.0], [9.0, 1.0, 1.0]])
    readable = layer(x)
    assert not has_fast_path(layer) and type(layer) not in FAST_CLASSES
    with cnn.fast_path():
        torch.testing.assert_close(layer(x), readable)
    with pytest.raises(TypeError, match="_MedianBatchNorm has no fast path"):
        layer.fast = True


def test_the_fast_classes_are_exactly_the_registered_layers_that_take_the_fast_path():
    assert set(FAST_CLASSES) <= {entry.course_class for entry in norms.REGISTRY}
    for entry in norms.REGISTRY:
        layer = entry.case.build(entry.course_class)
        if has_fast_path(layer):
            layer.fast = True
            out = layer(torch.randn(entry.case.shape, requires_grad=True))
            assert "Function" in type(out.grad_fn).__name__, entry.name
