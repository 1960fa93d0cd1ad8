"""Figures for notebook 00: what standardizing a feature does."""

from __future__ import annotations

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from ..env import numpy_rng
from ..validation import check_int, check_number, check_positive
from . import COLORS, Panel
from .ticks import LiveTicks


def sample_feature(mean: float, std: float, n: int = 500, seed: int = 0) -> np.ndarray:
    """``n`` draws of a feature with the given ``mean`` and ``std`` (fixed ``seed``)."""
    mean = check_number("mean", mean)
    std = check_positive("std", std)
    n = check_int("n", n, minimum=2)
    return numpy_rng(check_int("seed", seed, minimum=0)).normal(mean, std, size=n)


def standardize(x: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """``(x - mean) / sqrt(var + eps)``: the core of every normalization layer in the course."""
    return (x - x.mean()) / np.sqrt(x.var() + eps)


# --- the explorer's right panel: what the scale of an input does to gradient descent ----------------------

MEAN_LIMIT = 1e4
STD_LIMITS = (1e-3, 1e4)


def _check_setting(mean: float, std: float) -> tuple[float, float]:
    mean = check_number("mean", mean)
    std = check_positive("std", std)
    if not abs(mean) <= MEAN_LIMIT:
        raise ValueError(f"mean must be between {-MEAN_LIMIT:g} and {MEAN_LIMIT:g} for this figure, got {mean!r}.")
    if not STD_LIMITS[0] <= std <= STD_LIMITS[1]:
        raise ValueError(f"std must be between {STD_LIMITS[0]:g} and {STD_LIMITS[1]:g} for this figure, got {std!r}.")
    return mean, std


def two_feature_problem(mean: float, std: float, n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A linear regression with two inputs: ``x1 ~ N(0, 1)`` and ``x2`` = the raw feature (``mean``, ``std``);
    the target is ``x1 + 2 * standardize(x2)`` plus a little noise (no intercept)."""
    mean, std = _check_setting(mean, std)
    rng = numpy_rng(check_int("seed", seed, minimum=0))
    x1 = rng.normal(size=n)
    x2 = sample_feature(mean, std, n=n, seed=seed + 1)
    y = x1 + 2 * standardize(x2) + 0.1 * rng.normal(size=n)
    return np.column_stack([x1, x2]), y


def gd_on_problem(X: np.ndarray, y: np.ndarray, steps: int = 20) -> dict:
    """Gradient descent from w = (0, 0) at the best single learning rate 2 / (l_max + l_min) on the mean
    squared error / 2: the path, the optimum, the condition number and the loss gap after ``steps``."""
    A = X.T @ X / len(X)
    eig = np.linalg.eigvalsh(A)
    lr = 2.0 / (eig[-1] + eig[0])
    w, path = np.zeros(2), [np.zeros(2)]
    for _ in range(steps):
        w = w - lr * X.T @ (X @ w - y) / len(X)
        path.append(w.copy())
    w_star = np.linalg.solve(A, X.T @ y / len(X))

    def loss(v):
        return 0.5 * float(np.mean((X @ v - y) ** 2))

    return {"path": np.array(path), "w_star": w_star, "kappa": float(eig[-1] / eig[0]),
            "gap": loss(path[-1]) - loss(w_star), "A": A, "b": X.T @ y / len(X), "c": float(y @ y / len(X))}


def _gap(gap: float) -> str:
    return "< 1e-6" if gap < 1e-6 else f"{gap:.1e}"


def loss_ellipses(A: np.ndarray, w_star: np.ndarray, drops: np.ndarray, points: int = 121) -> list[np.ndarray]:
    """The contours of a quadratic loss ``L(w) = L(w*) + (w - w*)^T A (w - w*) / 2`` (``A`` symmetric positive
    definite) at ``L(w*) + drops``: one closed ellipse ``(points, 2)`` per entry of ``drops`` (> 0), exact,
    instead of a contour tracer on a grid (several ms per move, and only approximate for narrow valleys)."""
    eig, vectors = np.linalg.eigh(A)
    angle = np.linspace(0.0, 2.0 * np.pi, points)
    circle = np.stack([np.cos(angle), np.sin(angle)])  # (2, points)
    return [w_star + ((vectors * np.sqrt(2.0 * drop / eig)) @ circle).T for drop in drops]


class StandardizePanel(Panel):
    """The standardize explorer's figure, built once and updated in place: the raw feature's histogram,
    the standardized one, and the loss contours of a regression using the raw feature with 20 steps of
    gradient descent from (0, 0).

    A :class:`~course_utils.plots.Panel` whose background never changes: the axes whose limits follow
    the sliders (raw feature, gradient descent) draw their ticks with :class:`LiveTicks`, so a move draws
    only the histograms, contours (exact ellipses), path, titles and those ticks over the cached figure."""

    def __init__(self, steps: int = 20) -> None:
        self.steps = steps
        super().__init__(Figure(figsize=(10.0, 2.9)))
        self.figure.subplots_adjust(left=0.03, right=0.98, bottom=0.17, top=0.8, wspace=0.25)
        self.axes = self.figure.subplots(1, 3, width_ratios=[1, 1, 1.15])
        ax_raw, ax_std, ax_gd = self.axes
        self.raw_hist = ax_raw.stairs(np.zeros(30), np.linspace(0, 1, 31), fill=True, color=COLORS["raw"], alpha=0.8)
        self.std_hist = ax_std.stairs(np.zeros(30), np.linspace(-4, 4, 31), fill=True, color=COLORS["standardized"],
                                      alpha=0.8)
        for ax in (ax_raw, ax_std):
            ax.set_yticks([])
            ax.set_xlabel("feature value")
        ax_std.set_xlim(-4, 4)
        ax_gd.grid(False)
        self.contours = LineCollection([], colors="0.6", linewidths=0.8)
        ax_gd.add_collection(self.contours, autolim=False)
        (self.path_line,) = ax_gd.plot([], [], "-o", color=COLORS["raw"], ms=2.5, lw=1.2)
        (self.star,) = ax_gd.plot([], [], "*", color="black", ms=10)
        ax_gd.set_xlabel("$w_1$ (weight of x1 ~ N(0, 1))")
        ax_gd.set_ylabel("$w_2$ (raw feature)")
        ax_gd.set_aspect("equal", adjustable="box")  # the window is square (same span both ways): a fixed box
        ax_gd.set_xlim(-1, 1)
        ax_gd.set_ylim(-1, 1)
        ax_gd.apply_aspect()  # place that box now: LiveTicks fit as many ticks as its width takes, as on screen
        self.ticks = [LiveTicks(ax_raw, "x"), LiveTicks(ax_gd, "x"), LiveTicks(ax_gd, "y")]
        self.titles = [ax.text(0.5, 1.03, "", transform=ax.transAxes, ha="center", va="bottom", fontsize=9)
                       for ax in self.axes]
        for artist in (self.raw_hist, *self.ticks[0].artists, self.std_hist, self.contours, self.path_line,
                       self.star, *self.ticks[1].artists, *self.ticks[2].artists, *self.titles):
            self.dynamic(artist)

    def static_key(self) -> tuple:
        # Only the standardized axes draws its own ticks (and its limits never change): one background for all.
        ax_std = self.axes[1]
        return (ax_std.get_xlim(), ax_std.get_ylim())

    def update(self, mean: float, std: float) -> Figure:
        mean, std = _check_setting(mean, std)
        x = sample_feature(mean, std)
        z = standardize(x)
        ax_raw, ax_std, ax_gd = self.axes
        counts, edges = np.histogram(x, bins=30)
        self.raw_hist.set_data(counts / counts.max(), edges)
        ax_raw.set_xlim(edges[0], edges[-1])
        ax_raw.set_ylim(0, 1.05)
        counts, edges = np.histogram(z, bins=30, range=(-4, 4))
        self.std_hist.set_data(counts / counts.max(), edges)
        ax_std.set_ylim(0, 1.05)
        self.titles[0].set_text(f"raw feature: mean {round(float(x.mean()), 2) + 0.0:.2f}, std {x.std():.2f}")
        self.titles[1].set_text(f"standardized: mean {round(float(z.mean()), 2) + 0.0:.2f}, std {z.std():.2f}")
        X, y = two_feature_problem(mean, std)
        raw = gd_on_problem(X, y, self.steps)
        Xs = np.column_stack([X[:, 0], standardize(X[:, 1], eps=0.0)])
        stdz = gd_on_problem(Xs, y, self.steps)
        path, w_star = raw["path"], raw["w_star"]
        span = max(float(np.abs(path - w_star).max()) * 1.15, 1e-9)
        # The contour levels: quantiles of the loss over the square window (as before), drawn as exact ellipses.
        w1 = np.linspace(w_star[0] - span, w_star[0] + span, 60)
        w2 = np.linspace(w_star[1] - span, w_star[1] + span, 60)
        D1, D2 = np.meshgrid(w1 - w_star[0], w2 - w_star[1])
        A = raw["A"]
        drops = 0.5 * (A[0, 0] * D1**2 + 2 * A[0, 1] * D1 * D2 + A[1, 1] * D2**2)  # loss above the minimum
        levels = np.unique(np.quantile(drops, np.linspace(0.002, 0.9, 10) ** 2))
        self.contours.set_segments(loss_ellipses(A, w_star, levels[levels > 0]))
        self.path_line.set_data(path[:, 0], path[:, 1])
        self.star.set_data([w_star[0]], [w_star[1]])
        ax_gd.set_xlim(w1[0], w1[-1])
        ax_gd.set_ylim(w2[0], w2[-1])
        for ticks in self.ticks:
            ticks.update()
        # Two short lines: the third axes is about a third of the figure wide (a longer line was clipped).
        self.titles[2].set_text(
            f"{self.steps} GD steps: condition {raw['kappa']:.3g}, loss gap {_gap(raw['gap'])}\n"
            f"x2 standardized: condition {stdz['kappa']:.2g}, loss gap {_gap(stdz['gap'])}"
        )
        return self.figure
