"""Data-parallel BatchNorm on a real distributed engine: ``torch.distributed`` (gloo) on 127.0.0.1.

:func:`compare_data_parallel` starts ``world_size`` processes with ``torch.multiprocessing`` (spawn; the
worker below must live in an importable module, not in a notebook cell). Every process holds one
shard of the batch and the same small model, ``Linear -> BatchNorm -> Linear``, and runs one
training step twice: with a per-process ``torch.nn.BatchNorm1d`` (what plain data parallelism
gives you) and with the course's :class:`course_utils.nn.SyncBatchNorm`. Parameter gradients are
summed over the processes with an all-reduce, as DistributedDataParallel does. The parent process
runs the same step on the full batch and compares outputs and gradients.

A worker that fails or a job that hangs (a stuck rendezvous) ends with a clear error after
``timeout`` seconds; processes are always terminated and the process group destroyed.
"""

from __future__ import annotations

import datetime
import socket
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from .env import manual_seed, torch_generator
from .train import train_steps
from .validation import check_int, check_number, check_positive

__all__ = ["free_port", "compare_data_parallel", "make_problem"]

MODES = ("local", "sync")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (chosen by the OS)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_problem(n: int, features: int = 8, hidden: int = 6, seed: int = 0, offset: float = 0.0):
    """The data (x, target) of the global batch, float64, and the initial state of the model.

    ``offset`` is added to every input (default 0): a large one makes the BatchNorm inputs large compared
    with their spread, where a one-pass variance (E[x^2] - E[x]^2) would lose its digits."""
    n = check_int("n", n, minimum=2)
    features = check_int("features", features, minimum=1)
    hidden = check_int("hidden", hidden, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    offset = check_number("offset", offset)
    gen = torch_generator(seed)
    x = offset + 2 + 3 * torch.randn(n, features, generator=gen, dtype=torch.float64)
    target = torch.randn(n, 3, generator=gen, dtype=torch.float64)
    manual_seed(seed)
    model = _model(features, hidden, nn.BatchNorm1d)
    return x, target, model.state_dict()


def _model(features: int, hidden: int, bn_class) -> nn.Sequential:
    return nn.Sequential(nn.Linear(features, hidden, bias=False), bn_class(hidden), nn.Linear(hidden, 3)).double()


def _step(model: nn.Sequential, x: torch.Tensor, target: torch.Tensor, global_n: int):
    """One forward/backward; the loss is this shard's share of the global mean squared error, so the
    processes' losses add up to the full-batch loss and summed gradients equal full-batch gradients."""
    x = x.clone().requires_grad_()
    loss, hidden = _loss(model, x, target, global_n)
    loss.backward()
    return hidden.detach(), x.grad.detach()


def _loss(model: nn.Sequential, x: torch.Tensor, target: torch.Tensor, global_n: int):
    """This shard's share of the global mean squared error, and the BatchNorm layer's output."""
    hidden = model[1](model[0](x))
    return ((model[2](hidden) - target) ** 2).sum() / global_n, hidden


def _all_reduce_grads(model: nn.Module) -> None:
    import torch.distributed as dist

    for p in model.parameters():
        dist.all_reduce(p.grad)  # what DDP does: every process ends with the summed gradient


def _worker(rank: int, world_size: int, port: int, out_dir: str, n: int, features: int, hidden: int, seed: int,
            timing_steps: int, timeout: float, offset: float = 0.0) -> None:  # fmt: skip
    import torch.distributed as dist

    from .nn import SyncBatchNorm

    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size,
        timeout=datetime.timedelta(seconds=timeout),
    )  # fmt: skip
    try:
        x, target, state = make_problem(n, features, hidden, seed, offset)
        shard = slice(rank * n // world_size, (rank + 1) * n // world_size)
        result: dict = {"rank": rank, "shard": (shard.start, shard.stop)}
        for mode in MODES:
            model = _model(features, hidden, nn.BatchNorm1d if mode == "local" else SyncBatchNorm)
            model.load_state_dict(state)
            out, x_grad = _step(model, x[shard], target[shard], n)
            grads = {}
            for name, p in model.named_parameters():
                dist.all_reduce(p.grad)  # what DDP does: every process ends with the summed gradient
                grads[name] = p.grad.clone()
            result[mode] = {"output": out, "input_grad": x_grad, "grads": grads,
                            "running_mean": model[1].running_mean.clone(),
                            "running_var": model[1].running_var.clone()}  # fmt: skip
        # Cost per training step, measured the same way for both layers: the course's training loop with the
        # gradient all-reduce before the update (an SGD step with lr 0, so the model stays as it is).
        # The per-process layer here is the course's BatchNorm1d (same unfused arithmetic as SyncBatchNorm),
        # so the difference is the cost of the two extra all-reduces, not of torch's fused kernel.
        from .nn import BatchNorm1d as CourseBatchNorm1d

        for mode in MODES:
            model = _model(features, hidden, CourseBatchNorm1d if mode == "local" else SyncBatchNorm)
            model.load_state_dict(state)
            opt = torch.optim.SGD(model.parameters(), lr=0.0)
            dist.barrier()
            start = time.perf_counter()
            train_steps(model, opt, lambda step, m=model: _loss(m, x[shard], target[shard], n)[0], timing_steps,
                        before_update=lambda m=model: _all_reduce_grads(m), progress=False)  # fmt: skip
            result[f"{mode}_ms_per_step"] = 1000 * (time.perf_counter() - start) / timing_steps
        stats = torch.zeros(2 * hidden + 1, dtype=torch.float64)
        dist.barrier()
        start = time.perf_counter()
        for _ in range(timing_steps):
            dist.all_reduce(stats)
        result["all_reduce_ms"] = 1000 * (time.perf_counter() - start) / timing_steps
        torch.save(result, Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def _full_batch(n: int, features: int, hidden: int, seed: int, offset: float = 0.0) -> dict:
    x, target, state = make_problem(n, features, hidden, seed, offset)
    model = _model(features, hidden, nn.BatchNorm1d)
    model.load_state_dict(state)
    out, x_grad = _step(model, x, target, n)
    return {"output": out, "input_grad": x_grad,
            "grads": {name: p.grad.clone() for name, p in model.named_parameters()},
            "running_mean": model[1].running_mean.clone(), "running_var": model[1].running_var.clone()}  # fmt: skip


def compare_data_parallel(
    world_size: int = 2,
    n: int = 32,
    features: int = 8,
    hidden: int = 6,
    seed: int = 0,
    timing_steps: int = 100,
    timeout: float = 60.0,
    offset: float = 0.0,
) -> dict:
    """Run the data-parallel step in ``world_size`` processes and compare with one full-batch process.

    Returns ``{"local": {...}, "sync": {...}, "ms_per_step": {...}, "all_reduce_ms": float,
    "seconds": float}`` where each mode's dict holds the largest absolute differences from the full
    batch: ``output`` (BN outputs of all shards), ``input_grad``, ``param_grad`` (after the gradient
    all-reduce), ``running`` (running mean/var). ``offset`` is added to every input (see :func:`make_problem`).
    """
    world_size = check_int("world_size", world_size, minimum=1, maximum=8)
    n = check_int("n", n, minimum=2 * world_size)
    features = check_int("features", features, minimum=1)
    hidden = check_int("hidden", hidden, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    timing_steps = check_int("timing_steps", timing_steps, minimum=1)
    timeout = check_positive("timeout", timeout)
    offset = check_number("offset", offset)
    import torch.multiprocessing as mp

    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="normcourse_dist_") as out_dir:
        port = free_port()
        args = (world_size, port, out_dir, n, features, hidden, seed, timing_steps, timeout, offset)
        context = mp.start_processes(_worker, args=args, nprocs=world_size, join=False, start_method="spawn")
        deadline = time.monotonic() + timeout
        try:
            while not context.join(timeout=0.2):
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"the {world_size} gloo processes did not finish within {timeout:g} s (port {port}). "
                        "Another program may hold the port, or a process is stuck: run the cell again, or "
                        "pass a larger timeout=."
                    )
        except mp.ProcessRaisedException as err:
            raise RuntimeError(f"a data-parallel worker failed:\n{err}") from None
        except mp.ProcessExitedException as err:
            raise RuntimeError(f"a data-parallel worker died (exit code {err.exit_code}).") from None
        finally:
            for process in context.processes:
                if process.is_alive():
                    process.terminate()
                process.join(timeout=5)
        results = [torch.load(Path(out_dir) / f"rank{r}.pt") for r in range(world_size)]
    seconds = time.perf_counter() - start
    full = _full_batch(n, features, hidden, seed, offset)
    summary: dict = {"seconds": seconds, "world_size": world_size, "n": n}
    for mode in MODES:
        out = torch.cat([r[mode]["output"] for r in results])
        x_grad = torch.cat([r[mode]["input_grad"] for r in results])
        d = {
            "output": float((out - full["output"]).abs().max()),
            "input_grad": float((x_grad - full["input_grad"]).abs().max()),
            "param_grad": max(
                float((results[0][mode]["grads"][k] - g).abs().max()) for k, g in full["grads"].items()
            ),
            "running": max(
                float((results[0][mode][k] - full[k]).abs().max()) for k in ("running_mean", "running_var")
            ),
            "ranks_agree": all(
                torch.equal(r[mode]["grads"][k], results[0][mode]["grads"][k]) for r in results for k in full["grads"]
            ),
        }
        summary[mode] = d
    summary["ms_per_step"] = {m: max(r[f"{m}_ms_per_step"] for r in results) for m in MODES}
    summary["all_reduce_ms"] = max(r["all_reduce_ms"] for r in results)
    return summary
