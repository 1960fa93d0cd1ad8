"""Helpers shared by several test modules (a test module never imports another test module)."""

from __future__ import annotations

import torch

GREAT = 1e-7
"""A relative error below this: an analytic gradient that agrees with the numerical one (float64)."""

DTYPES = [torch.float32, torch.float64]


def tolerances(dtype: torch.dtype) -> dict[str, float]:
    return {"rtol": 1e-4, "atol": 1e-5} if dtype == torch.float32 else {"rtol": 1e-10, "atol": 1e-11}


def assert_close(actual, expected, dtype, **overrides):
    torch.testing.assert_close(actual, expected, **{**tolerances(dtype), **overrides})


def randomize_parameters(module: torch.nn.Module, generator: torch.Generator) -> None:
    # Non-trivial gamma/beta so that a wrong use of either would show up in outputs and gradients.
    with torch.no_grad():
        for param in module.parameters():
            param.copy_(torch.randn(param.shape, generator=generator, dtype=param.dtype) * 0.5 + 1.0)


def make_pair(ours_cls, theirs_cls, *args, **kwargs):
    generator = torch.Generator().manual_seed(1)
    theirs = theirs_cls(*args, **kwargs)
    randomize_parameters(theirs, generator)
    ours = ours_cls(*args, **kwargs)
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


def run_step(ours, theirs, x, gout, dtype):
    """One forward + backward through both layers; compare outputs and every gradient."""
    xa = x.clone().requires_grad_(True)
    xb = x.clone().requires_grad_(True)
    ya, yb = ours(xa), theirs(xb)
    assert ya.dtype == yb.dtype and ya.shape == yb.shape
    assert_close(ya, yb, dtype)
    ya.backward(gout)
    yb.backward(gout)
    assert_close(xa.grad, xb.grad, dtype, atol=1e-4 if dtype == torch.float32 else 1e-10)
    for (name_a, pa), (name_b, pb) in zip(ours.named_parameters(), theirs.named_parameters(), strict=True):
        assert name_a == name_b
        assert_close(pa.grad, pb.grad, dtype, atol=1e-4 if dtype == torch.float32 else 1e-10)
        pa.grad = pb.grad = None
    return ya, yb


def assert_same_buffers(ours, theirs, dtype):
    buffers_a, buffers_b = dict(ours.named_buffers()), dict(theirs.named_buffers())
    assert buffers_a.keys() == buffers_b.keys()
    for name in buffers_a:
        if name == "num_batches_tracked":
            assert buffers_a[name].dtype == torch.long
            assert int(buffers_a[name]) == int(buffers_b[name])
        else:
            assert_close(buffers_a[name], buffers_b[name], dtype)


def torch_grads(fn, dout, *arrays):
    """Gradients of sum(fn(*tensors) * dout) by torch autograd, as numpy arrays."""
    tensors = [torch.tensor(a, requires_grad=True) for a in arrays]
    fn(*tensors).backward(torch.from_numpy(dout))
    return [t.grad.numpy() for t in tensors]
