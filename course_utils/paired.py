"""Paired seeds: the evidence behind every "A beats B" in the course.

Two training runs differ for two reasons: the method (what we want to measure) and luck (the random
initialization and the order of the minibatches). Run A and B with the **same seeds** -- same data order,
same initial weights where the architectures allow it -- and look at the per-seed *differences*: luck that
A and B share cancels out, so a small but real effect shows up even when the seed-to-seed spread of each
method alone is larger.

A claim "A is better than B" is *supported* when

- A is better on every seed (all per-seed differences have the right sign), or
- the mean difference exceeds the spread (standard deviation) of the differences.

Otherwise the course weakens the claim, never the assert::

    from course_utils.paired import compare
    result = compare(run, {"BatchNorm": "batch", "none": None}, seeds=(0, 1, 2), metric="val_acc")
    print(result)                       # per-seed table, mean difference, spread, verdict
    result.assert_supports("BatchNorm reaches a higher validation accuracy")
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .validation import check_bool, check_int

__all__ = ["Paired", "paired", "compare", "compare_all"]


@dataclass(frozen=True)
class Paired:
    """Per-seed results of method ``a`` and method ``b`` on one metric, and what they support.

    ``higher_is_better`` says which direction is "better" (True for accuracy, False for a loss, an error
    or a number of steps). ``gains`` are the per-seed differences oriented so that a positive gain means
    ``a`` did better than ``b`` on that seed.
    """

    a: str
    b: str
    metric: str
    seeds: tuple[int, ...]
    a_values: tuple[float, ...]
    b_values: tuple[float, ...]
    higher_is_better: bool = True

    @property
    def differences(self) -> np.ndarray:
        """``a - b`` per seed (raw, not oriented)."""
        return np.asarray(self.a_values) - np.asarray(self.b_values)

    @property
    def gains(self) -> np.ndarray:
        """Per-seed advantage of ``a`` over ``b``: positive = ``a`` better on that seed."""
        return self.differences if self.higher_is_better else -self.differences

    @property
    def mean_gain(self) -> float:
        return float(self.gains.mean())

    @property
    def spread(self) -> float:
        """Sample standard deviation of the per-seed gains (0 for a single seed)."""
        return float(self.gains.std(ddof=1)) if len(self.seeds) > 1 else 0.0

    @property
    def wins(self) -> int:
        """On how many seeds ``a`` did strictly better than ``b``."""
        return int((self.gains > 0).sum())

    def supports(self) -> bool:
        """True if the evidence carries "a is better than b": every seed agrees, or mean gain > spread."""
        every_seed = self.wins == len(self.seeds)
        clear_mean = self.mean_gain > 0 and self.mean_gain > self.spread
        return every_seed or clear_mean

    def verdict(self) -> str:
        """One sentence on what the paired evidence supports."""
        n = len(self.seeds)
        better = "higher" if self.higher_is_better else "lower"
        if self.wins == n:
            return f"{self.a} better than {self.b} on all {n} seeds ({better} {self.metric} is better)."
        if self.supports():
            return (
                f"{self.a} better than {self.b} on average by more than the spread "
                f"({self.wins}/{n} seeds; {better} {self.metric} is better)."
            )
        if self.wins == 0 and np.all(self.gains < 0):
            return f"{self.b} better than {self.a} on all {n} seeds: the claim goes the other way."
        return (
            f"not supported: {self.a} better on {self.wins}/{n} seeds, mean gain {self.mean_gain:+.4g} "
            f"within the spread {self.spread:.4g}."
        )

    def assert_supports(self, claim: str | None = None) -> None:
        """Raise ``AssertionError`` (with the per-seed table) unless the evidence supports "a beats b"."""
        if not self.supports():
            what = claim or f"{self.a} beats {self.b} on {self.metric}"
            raise AssertionError(f"The paired evidence does not carry the claim '{what}':\n{self.table()}")

    def table(self, digits: int = 4) -> str:
        """A small text table: one row per seed, then the mean gain, the spread and the verdict."""
        width = max(len(self.a), len(self.b), 8)
        head = f"{'seed':>4}  {self.a:>{width}}  {self.b:>{width}}  {'a - b':>9}"
        rows = [head]
        for seed, va, vb, diff in zip(self.seeds, self.a_values, self.b_values, self.differences, strict=True):
            rows.append(f"{seed:>4}  {va:>{width}.{digits}g}  {vb:>{width}.{digits}g}  {diff:>+9.{digits}g}")
        gain, spread = f"{self.mean_gain:+.{digits}g}", f"{self.spread:.{digits}g}"
        rows.append(f"mean gain of {self.a} over {self.b}: {gain} (spread {spread})")
        rows.append(f"verdict: {self.verdict()}")
        return "\n".join(rows)

    def __str__(self) -> str:
        return f"{self.metric}: {self.a} vs {self.b}\n{self.table()}"


def _check_values(name: str, values: Sequence[float], n: int) -> tuple[float, ...]:
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a sequence of numbers (one per seed), got {values!r}.") from err
    if array.ndim != 1 or len(array) != n:
        raise ValueError(f"{name} must hold one number per seed ({n} seeds), got shape {array.shape}.")
    if not np.all(np.isfinite(array)):
        bad = [i for i, v in enumerate(array) if not math.isfinite(v)]
        raise ValueError(
            f"{name} has non-finite values at positions {bad}: a diverged run cannot be compared by its "
            "number. Record divergence separately (e.g. as steps = max steps or accuracy = chance)."
        )
    return tuple(float(v) for v in array)


def paired(
    a: str,
    a_values: Sequence[float],
    b: str,
    b_values: Sequence[float],
    seeds: Sequence[int],
    *,
    metric: str = "metric",
    higher_is_better: bool = True,
) -> Paired:
    """Build a :class:`Paired` from results you already have (``a_values[i]`` and ``b_values[i]`` ran
    with ``seeds[i]``)."""
    seeds = tuple(check_int(f"seeds[{i}]", s, minimum=0) for i, s in enumerate(seeds))
    if len(seeds) < 2:
        raise ValueError(f"seeds must hold at least 2 seeds for a paired comparison, got {list(seeds)}.")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct (each one is one paired run), got {list(seeds)}.")
    for label, value in (("a", a), ("b", b), ("metric", metric)):
        if not isinstance(value, str) or not value:
            raise TypeError(f"{label} must be a non-empty string (a name for the table), got {value!r}.")
    return Paired(
        a=a,
        b=b,
        metric=metric,
        seeds=seeds,
        a_values=_check_values("a_values", a_values, len(seeds)),
        b_values=_check_values("b_values", b_values, len(seeds)),
        higher_is_better=check_bool("higher_is_better", higher_is_better),
    )


def compare_all(
    run: Callable[[Any, int], float],
    configs: Mapping[str, Any],
    seeds: Sequence[int],
) -> dict[str, tuple[float, ...]]:
    """Run ``run(config, seed)`` for every config and every seed; return ``{name: per-seed values}``.

    ``run`` must use ``seed`` for everything random (initialization, data order, dropout masks), so that
    two configs run with the same seed differ only in the method.
    """
    if not callable(run):
        raise TypeError(f"run must be a function run(config, seed) -> float, got {type(run).__name__}.")
    if not isinstance(configs, Mapping) or len(configs) < 2:
        raise ValueError("configs must be a dict {name: config} with at least two entries to compare.")
    return {name: tuple(float(run(config, seed)) for seed in seeds) for name, config in configs.items()}


def compare(
    run: Callable[[Any, int], float],
    configs: Mapping[str, Any],
    seeds: Sequence[int],
    *,
    metric: str = "metric",
    higher_is_better: bool = True,
) -> Paired:
    """Run two configs with the same seeds and compare them: ``configs = {"A": config_a, "B": config_b}``.

    The result answers "is A better than B?"; print it for the per-seed table.
    """
    if not isinstance(configs, Mapping) or len(configs) != 2:
        raise ValueError("configs must be a dict with exactly two entries {'A': config_a, 'B': config_b}.")
    results = compare_all(run, configs, seeds)
    (a, a_values), (b, b_values) = results.items()
    return paired(a, a_values, b, b_values, seeds, metric=metric, higher_is_better=higher_is_better)
