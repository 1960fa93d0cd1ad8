"""Paired seeds: the evidence behind every "A beats B" in the course.

Two training runs differ for two reasons: the method (what we want to measure) and luck (the random
initialization and the order of the minibatches). Run A and B with the **same seeds** -- same data order,
same initial weights where the architectures allow it -- and look at the per-seed *differences*: luck that
A and B share cancels out, so a small but real effect shows up even when the seed-to-seed spread of each
method alone is larger.

The course's rule (one rule, stated in every verdict): a claim "A is better than B" is *supported* when a
one-sided **sign-flip test** on the per-seed gains gives p < 0.05. If A and B were equally good, each
per-seed gain would be as likely to come out positive as negative (the seed's luck is shared, only the
sign of what is left is random); the p-value is the fraction of the 2^n ways of flipping the signs of the
gains whose mean gain is at least the one observed. So

- with 5 seeds, only "A better on all 5" supports a claim (p = 1/32 = 0.031);
- with more seeds, one or two small losses can be outweighed by large wins;
- with fewer than 5 seeds nothing can be supported (the smallest p with 4 seeds is 1/16).

Under no effect the rule says "supported" at most 5% of the time, whatever the distribution of the gains
(tests/test_paired.py checks this by simulation; the older rule "every one of 3 seeds agrees, or mean gain >
spread" said it 6-12% of the time). Otherwise the course weakens the claim, never the assert::

    from course_utils.env import experiment_seeds
    from course_utils.paired import compare
    result = compare(run, {"BatchNorm": "batch", "none": None}, seeds=experiment_seeds(5), metric="val_acc")
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

__all__ = ["ALPHA", "MIN_SEEDS", "Paired", "compare", "compare_all", "paired", "sign_flip_p_value"]

ALPHA = 0.05  # the rule's false-positive rate under no effect, at most
MIN_SEEDS = 5  # the fewest seeds with which the rule can support anything (p = 2**-5 < ALPHA)
_EXACT_UP_TO = 16  # seeds; beyond, the sign patterns are sampled (fixed generator, 2**16 draws)
RULE = "one-sided sign-flip test on the per-seed gains, supported if p < 0.05"


def sign_flip_p_value(gains: Sequence[float]) -> float:
    """One-sided p-value of "the mean gain is above 0" by flipping the signs of the per-seed gains.

    The fraction of sign patterns (all 2**n of them; a fixed random sample of 65,536 beyond 16 seeds) whose
    mean gain is at least the observed one. Exact and distribution-free: under no effect each gain is as
    likely positive as negative, so P(p < alpha) <= alpha.
    """
    g = np.asarray(gains, dtype=float)
    if g.ndim != 1 or len(g) == 0 or not np.all(np.isfinite(g)):
        raise ValueError(f"gains must be a non-empty list of finite numbers, got {gains!r}.")
    n = len(g)
    if n <= _EXACT_UP_TO:
        patterns = ((np.arange(2**n)[:, None] >> np.arange(n)) & 1) * 2 - 1
    else:
        rng = np.random.default_rng(0)  # fixed: the verdict must not change between runs
        patterns = rng.choice(np.array([-1, 1]), size=(2**16, n))
    flipped = patterns @ g
    observed = g.sum()
    # A small relative tolerance so that float rounding in the sums cannot split exact ties.
    tol = 1e-12 * max(1.0, float(np.abs(g).sum()))
    return float(np.mean(flipped >= observed - tol))


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
        """On how many seeds ``a`` did strictly better than ``b`` (a tie is not a win)."""
        return int((self.gains > 0).sum())

    @property
    def p_value(self) -> float:
        """One-sided sign-flip p-value of "a is better than b" (see :func:`sign_flip_p_value`)."""
        return sign_flip_p_value(self.gains)

    def supports(self) -> bool:
        """True if the evidence carries "a is better than b" by the course's rule: p < 0.05 (>= 5 seeds)."""
        return len(self.seeds) >= MIN_SEEDS and self.mean_gain > 0 and self.p_value < ALPHA

    def reverse(self) -> Paired:
        """The same evidence read the other way round: "b is better than a"."""
        return Paired(self.b, self.a, self.metric, self.seeds, self.b_values, self.a_values, self.higher_is_better)

    def verdict(self) -> str:
        """One sentence on what the paired evidence supports, naming the rule and its p-value."""
        n = len(self.seeds)
        better = "higher" if self.higher_is_better else "lower"
        evidence = f"{self.wins}/{n} seeds, p = {self.p_value:.3f}; rule: p < {ALPHA}; {better} {self.metric} is better"
        if n < MIN_SEEDS:
            return f"too few seeds to support anything ({n} < {MIN_SEEDS}; {evidence})."
        if self.supports():
            return f"supported: {self.a} better than {self.b} ({evidence})."
        if self.reverse().supports():
            other = self.reverse()
            return f"the other way: {self.b} better than {self.a} ({other.wins}/{n} seeds, p = {other.p_value:.3f})."
        return f"not supported: {self.a} vs {self.b} is within the seed noise ({evidence})."

    @property
    def ties(self) -> int:
        """On how many seeds ``a`` and ``b`` got exactly the same value."""
        return int((self.gains == 0).sum())

    def assert_supports(self, claim: str | None = None) -> None:
        """Raise ``AssertionError`` (with the per-seed table) unless the evidence supports "a beats b"."""
        if not self.supports():
            what = claim or f"{self.a} beats {self.b} on {self.metric}"
            raise AssertionError(f"The paired evidence does not carry the claim '{what}':\n{self.table()}")

    def __post_init__(self) -> None:
        n = len(self.seeds)
        if len(self.a_values) != n or len(self.b_values) != n:
            raise ValueError(
                f"a_values and b_values must hold one number per seed ({n} seeds), got "
                f"{len(self.a_values)} and {len(self.b_values)}. Build it with paired(...)."
            )

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
    if isinstance(values, str | bytes) or any(isinstance(v, str | bytes | bool | np.bool_) for v in values):
        raise TypeError(f"{name} must be a sequence of numbers (one per seed), got {values!r}.")
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
    a_checked = _check_values("a_values", a_values, len(seeds))
    b_checked = _check_values("b_values", b_values, len(seeds))
    with np.errstate(over="ignore"):
        overflow = not np.all(np.isfinite(np.subtract(a_checked, b_checked)))
    if overflow:
        raise ValueError("a_values - b_values overflows (values near ±1e308): rescale the metric before comparing.")
    return Paired(
        a=a,
        b=b,
        metric=metric,
        seeds=seeds,
        a_values=a_checked,
        b_values=b_checked,
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
    if isinstance(seeds, str) or not isinstance(seeds, Sequence | range):
        raise TypeError(f"seeds must be a list of ints such as [0, 1, 2], got {type(seeds).__name__} {seeds!r}.")
    seeds = [check_int(f"seeds[{i}]", s, minimum=0) for i, s in enumerate(seeds)]

    def one(name: str, config: Any, seed: int) -> float:
        value = run(config, seed)
        try:
            return float(value)
        except (TypeError, ValueError, RuntimeError) as err:
            raise TypeError(
                f"run must return a number (the metric), but run({name!r} config, seed={seed}) returned "
                f"{type(value).__name__} {value!r}. Did you forget a `return`?"
            ) from err

    return {name: tuple(one(name, config, seed) for seed in seeds) for name, config in configs.items()}


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
