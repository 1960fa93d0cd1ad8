"""Offline datasets with deterministic train/val/test splits and scaling fitted on train only.

Everything here ships with scikit-learn (wine, digits) or is synthetic: nothing downloads.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from .env import numpy_rng
from .validation import check_bool, check_float_array, check_int, check_number, check_positive

__all__ = [
    "Split",
    "Standardizer",
    "load_wine",
    "load_digits",
    "make_two_feature_regression",
    "make_blobs",
    "split_indices",
]


@dataclass(frozen=True)
class Split:
    """A dataset cut into train/val/test arrays (float32 features, int64 labels or float32 targets)."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    feature_names: list[str] = field(default_factory=list)
    target_names: list[str] = field(default_factory=list)
    name: str = ""

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[1])

    @property
    def n_classes(self) -> int:
        return len(self.target_names) if self.target_names else int(np.max(self.y_train)) + 1

    def tensors(self, part: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
        """The (X, y) of ``part`` ('train', 'val' or 'test') as torch tensors."""
        if part not in ("train", "val", "test"):
            raise ValueError(f"part must be 'train', 'val' or 'test', got {part!r}.")
        X, y = getattr(self, f"X_{part}"), getattr(self, f"y_{part}")
        return torch.from_numpy(X), torch.from_numpy(y)

    def standardized(self) -> Split:
        """The same split with features standardized by statistics of the *training* part only."""
        scaler = Standardizer().fit(self.X_train)
        return replace(
            self,
            X_train=scaler.transform(self.X_train),
            X_val=scaler.transform(self.X_val),
            X_test=scaler.transform(self.X_test),
        )

    def subset_train(self, n: int, seed: int = 0) -> Split:
        """Keep only ``n`` training examples (stratified by class), val and test unchanged."""
        n = check_int("n", n, minimum=1, maximum=len(self.X_train))
        idx = _stratified_first(self.y_train, n, check_int("seed", seed, minimum=0))
        return replace(self, X_train=self.X_train[idx], y_train=self.y_train[idx])

    def describe(self) -> str:
        return (
            f"{self.name}: {len(self.X_train)} train / {len(self.X_val)} val / {len(self.X_test)} test, "
            f"{self.n_features} features"
        )


class Standardizer:
    """Per-feature ``(x - mean) / std`` with statistics from the data passed to :meth:`fit`.

    Fit it on the training split only: using validation or test rows to compute the mean and std
    leaks information about them into training (data leakage), and the reported score is optimistic.
    """

    def __init__(self, eps: float = 1e-8) -> None:
        # A negative eps would shrink the denominator (output std above 1, or a division by ~0).
        self.eps = check_positive("eps", eps, allow_zero=True)
        self.mean_: np.ndarray | None = None
        self.std_: np.ndarray | None = None

    def fit(self, X: np.ndarray) -> Standardizer:
        X = check_float_array("X", X, ndim=2)
        if len(X) < 2:
            raise ValueError(f"X must have at least 2 rows to estimate a std, got {len(X)}.")
        self.mean_ = X.mean(axis=0)
        self.std_ = X.std(axis=0)
        if self.eps == 0 and np.any(self.std_ == 0):
            constant = np.flatnonzero(self.std_ == 0).tolist()
            raise ValueError(
                f"X has constant feature(s) {constant} (std 0) and eps=0, so they would become 0/0 = NaN. "
                "Use eps > 0, e.g. Standardizer(eps=1e-8), or drop the constant columns."
            )
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        if self.mean_ is None or self.std_ is None:
            raise RuntimeError("Standardizer is not fitted: call .fit(X_train) first.")
        X = check_float_array("X", X, ndim=2)
        if X.shape[1] != self.mean_.shape[0]:
            raise ValueError(f"X must have {self.mean_.shape[0]} features (columns), got {X.shape[1]}.")
        return ((X - self.mean_) / (self.std_ + self.eps)).astype(X.dtype)

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        return self.fit(X).transform(X)


def split_indices(
    labels: np.ndarray, val_fraction: float = 0.2, test_fraction: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stratified, seeded train/val/test index arrays (each class split in the same proportions).

    The three arrays are sorted, pairwise disjoint and together hold every index of ``labels`` once.
    A split that would leave a part empty, or a class without any training example, is refused: a
    model cannot learn a class it never sees, and an empty validation set has no accuracy (NaN).
    """
    labels = _check_labels(labels)
    val_fraction = check_number("val_fraction", val_fraction)
    test_fraction = check_number("test_fraction", test_fraction)
    if val_fraction <= 0 or test_fraction <= 0 or val_fraction + test_fraction >= 1:
        raise ValueError(
            "val_fraction and test_fraction must be > 0 and sum to less than 1 (the rest is the training "
            f"part), got val_fraction={val_fraction} and test_fraction={test_fraction}. Typical: 0.2 and 0.2."
        )
    rng = numpy_rng(check_int("seed", seed, minimum=0))
    parts: tuple[list, list, list] = ([], [], [])
    for cls in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == cls))
        n_val, n_test = round(len(idx) * val_fraction), round(len(idx) * test_fraction)
        if n_val + n_test >= len(idx):
            raise ValueError(
                f"val_fraction={val_fraction} and test_fraction={test_fraction} leave class {cls!r} "
                f"({len(idx)} examples) without any training example. Use smaller fractions "
                "(or more data of that class)."
            )
        parts[1].append(idx[:n_val])
        parts[2].append(idx[n_val : n_val + n_test])
        parts[0].append(idx[n_val + n_test :])
    train, val, test = (np.sort(np.concatenate(p)) for p in parts)
    for part, fraction, indices in (("validation", "val_fraction", val), ("test", "test_fraction", test)):
        if len(indices) == 0:
            raise ValueError(
                f"{fraction} is too small for {len(labels)} examples: the {part} part would be empty "
                f"(metrics on it would be NaN). Use a larger {fraction}."
            )
    return train, val, test


def _check_labels(labels) -> np.ndarray:
    if isinstance(labels, str) or not hasattr(labels, "__len__"):
        raise TypeError(f"labels must be a 1-D array of class labels, got {type(labels).__name__} {labels!r}.")
    array = np.asarray(labels)
    if array.ndim != 1:
        raise ValueError(f"labels must be a 1-D array of class labels (one per example), got shape {array.shape}.")
    if len(array) == 0:
        raise ValueError("labels is empty: there is nothing to split. Pass one class label per example.")
    if np.issubdtype(array.dtype, np.floating) and not np.all(np.isfinite(array)):
        raise ValueError("labels contains NaN or inf: every example needs a class label.")
    return array


def _stratified_first(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` indices whose class proportions match ``labels`` as closely as possible."""
    rng = numpy_rng(seed)
    order = rng.permutation(len(labels))
    # Interleave classes so any prefix is (nearly) balanced.
    rank = np.empty(len(labels))
    for cls in np.unique(labels):
        members = order[labels[order] == cls]
        rank[members] = (np.arange(len(members)) + rng.random()) / len(members)
    return np.sort(np.argsort(rank, kind="stable")[:n])


def _from_arrays(X, y, name, feature_names, target_names, val_fraction, test_fraction, seed) -> Split:
    train, val, test = split_indices(y, val_fraction, test_fraction, seed)
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y, dtype=np.int64)
    return Split(
        X[train], y[train], X[val], y[val], X[test], y[test],
        feature_names=list(feature_names), target_names=[str(t) for t in target_names], name=name,
    )  # fmt: skip


# The two real datasets ship inside the package (course_utils/datafiles/README.md: copies of scikit-learn's,
# which were the only reason the learner's install carried scikit-learn and SciPy).
DATA_DIR = Path(__file__).resolve().parent / "datafiles"
WINE_FEATURES = [
    "alcohol", "malic_acid", "ash", "alcalinity_of_ash", "magnesium", "total_phenols", "flavanoids",
    "nonflavanoid_phenols", "proanthocyanins", "color_intensity", "hue", "od280/od315_of_diluted_wines",
    "proline",
]  # fmt: skip


def _read_wine() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(features float64, labels, class names) from wine_data.csv (first line: n, d, class names)."""
    with open(DATA_DIR / "wine_data.csv", encoding="utf-8") as f:
        header = f.readline().strip().split(",")
        table = np.loadtxt(f, delimiter=",", dtype=np.float64, ndmin=2)
    n_samples, n_features = int(header[0]), int(header[1])
    if table.shape != (n_samples, n_features + 1):
        raise RuntimeError(f"{DATA_DIR / 'wine_data.csv'} is damaged: {table.shape} rows/columns, header says "
                           f"{n_samples} x {n_features + 1}. Reinstall the course (git checkout the file).")
    return table[:, :-1], table[:, -1].astype(np.int64), header[2:]


def _read_digits() -> tuple[np.ndarray, np.ndarray]:
    """(pixels float64 in 0..16, labels) from digits.csv.gz (64 pixels then the label per line)."""
    table = np.loadtxt(DATA_DIR / "digits.csv.gz", delimiter=",", dtype=np.float64, ndmin=2)
    if table.shape != (1797, 65):
        raise RuntimeError(f"{DATA_DIR / 'digits.csv.gz'} is damaged: {table.shape} rows/columns, expected "
                           "1797 x 65. Reinstall the course (git checkout the file).")
    return table[:, :-1], table[:, -1].astype(np.int64)


def load_wine(
    standardize: bool = False, val_fraction: float = 0.2, test_fraction: float = 0.2, seed: int = 0
) -> Split:
    """The UCI wine data, as bundled by scikit-learn (178 wines, 13 features, 3 cultivars).

    Its features live on wildly different scales (proline ~10^3 next to hue ~1), which is exactly
    what makes unnormalized inputs hard to learn from. ``standardize=True`` scales with training
    statistics only.
    """
    standardize = check_bool("standardize", standardize)
    X, y, target_names = _read_wine()
    split = _from_arrays(X, y, "wine", WINE_FEATURES, target_names, val_fraction, test_fraction, seed)
    return split.standardized() if standardize else split


def load_digits(
    standardize: bool = False, val_fraction: float = 0.2, test_fraction: float = 0.2, seed: int = 0
) -> Split:
    """The UCI 8x8 digits, as bundled by scikit-learn (1797 images, 64 pixel features in 0..16, 10 classes).

    Features are scaled to [0, 1] (pixel / 16); ``standardize=True`` additionally standardizes with
    training statistics only.
    """
    standardize = check_bool("standardize", standardize)
    X, y = _read_digits()
    names = [f"pixel_{r}_{c}" for r in range(8) for c in range(8)]
    split = _from_arrays(X / 16.0, y, "digits", names, range(10), val_fraction, test_fraction, seed)
    return split.standardized() if standardize else split


def make_blobs(
    n_samples: int = 600, n_features: int = 2, n_classes: int = 3, spread: float = 1.0, seed: int = 0
) -> Split:
    """Gaussian class blobs: a small synthetic classification problem."""
    n_samples = check_int("n_samples", n_samples, minimum=10)
    n_features = check_int("n_features", n_features, minimum=1)
    n_classes = check_int("n_classes", n_classes, minimum=2)
    spread = check_positive("spread", spread, allow_zero=True)
    if spread > 1e6:
        # float32 features: a spread this large swamps the class centres and overflows to inf soon after.
        raise ValueError(f"spread must be <= 1e6 (the class centres are ~3 apart), got {spread!r}.")
    rng = numpy_rng(check_int("seed", seed, minimum=0))
    centers = rng.normal(scale=3.0, size=(n_classes, n_features))
    y = rng.integers(0, n_classes, size=n_samples)
    X = centers[y] + spread * rng.normal(size=(n_samples, n_features))
    names = [f"x{i}" for i in range(n_features)]
    return _from_arrays(X, y, "blobs", names, range(n_classes), 0.2, 0.2, seed)


def make_two_feature_regression(
    n_samples: int = 200, scales: tuple[float, float] = (1.0, 10.0), seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A linear-regression problem with two features on different ``scales``.

    Returns ``(X, y)`` with ``y = X @ w_true + noise``. With unequal scales the squared-error loss
    surface over the two weights is an elongated valley; after standardization it is round.
    """
    n_samples = check_int("n_samples", n_samples, minimum=2)
    if isinstance(scales, str) or not hasattr(scales, "__len__"):
        raise TypeError(
            f"scales must be a pair of numbers such as (1.0, 10.0), got {type(scales).__name__} {scales!r}."
        )
    if len(scales) != 2:
        raise ValueError(f"scales must hold two numbers, got {scales!r}.")
    s = np.array([check_number("scales[0]", scales[0]), check_number("scales[1]", scales[1])])
    if np.any(s <= 0):
        raise ValueError(f"scales must be positive, got {scales!r}.")
    rng = numpy_rng(check_int("seed", seed, minimum=0))
    X = rng.normal(size=(n_samples, 2)) * s
    w_true = np.array([2.0, -1.0]) / s
    y = X @ w_true + 0.1 * rng.normal(size=n_samples)
    return X.astype(np.float64), y.astype(np.float64)
