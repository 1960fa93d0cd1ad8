from __future__ import annotations

import numpy as np
import pytest
import torch

from course_utils import data


def test_wine_split_is_stratified_deterministic_and_disjoint():
    a, b = data.load_wine(seed=0), data.load_wine(seed=0)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    assert len(a.X_train) + len(a.X_val) + len(a.X_test) == 178
    assert a.n_features == 13 and a.n_classes == 3
    # every class appears in every part
    for y in (a.y_train, a.y_val, a.y_test):
        assert set(np.unique(y)) == {0, 1, 2}
    rows = {tuple(r) for r in a.X_train}
    assert not any(tuple(r) in rows for r in a.X_test)


def test_other_seed_gives_other_split():
    assert not np.array_equal(data.load_wine(seed=0).X_train, data.load_wine(seed=1).X_train)


def test_wine_features_live_on_very_different_scales():
    split = data.load_wine()
    std = split.X_train.std(axis=0)
    assert std.max() / std.min() > 1000  # proline vs hue/nonflavanoid phenols


def test_standardized_uses_training_statistics_only():
    split = data.load_wine().standardized()
    np.testing.assert_allclose(split.X_train.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(split.X_train.std(axis=0), 1, atol=1e-4)
    # validation data is transformed with the training statistics, so it is NOT exactly standardized
    assert np.abs(split.X_val.mean(axis=0)).max() > 1e-3


def test_standardizer_matches_formula_and_refuses_bad_input():
    X = np.array([[1.0, 10.0], [3.0, 30.0], [5.0, 50.0]])
    Z = data.Standardizer().fit_transform(X)
    np.testing.assert_allclose(Z[:, 0], (X[:, 0] - 3) / X[:, 0].std(), rtol=1e-6)
    with pytest.raises(RuntimeError, match="fit"):
        data.Standardizer().transform(X)
    with pytest.raises(TypeError, match="X must have a floating dtype"):
        data.Standardizer().fit(X.astype(int))
    with pytest.raises(ValueError, match="X must have 2 features"):
        data.Standardizer().fit(X).transform(np.ones((2, 3)))


def test_digits_scaled_to_unit_interval_and_subset_is_balanced():
    split = data.load_digits()
    assert split.X_train.min() >= 0 and split.X_train.max() <= 1 and split.n_classes == 10
    small = split.subset_train(200)
    counts = np.bincount(small.y_train, minlength=10)
    assert len(small.X_train) == 200 and counts.min() >= 17 and counts.max() <= 23
    assert len(small.X_val) == len(split.X_val)
    with pytest.raises(ValueError, match="n must be <="):
        split.subset_train(10**6)


def test_split_fractions_are_checked():
    with pytest.raises(ValueError, match="val_fraction and test_fraction"):
        data.load_wine(val_fraction=0.6, test_fraction=0.5)
    with pytest.raises(TypeError, match="val_fraction must be a number"):
        data.load_wine(val_fraction="0.2")


def test_two_feature_regression_scales():
    X, y = data.make_two_feature_regression(scales=(1.0, 100.0))
    ratio = X[:, 1].std() / X[:, 0].std()
    assert 70 < ratio < 130
    with pytest.raises(ValueError, match="scales must be positive"):
        data.make_two_feature_regression(scales=(1.0, -1.0))


def test_tensors_part_is_checked():
    with pytest.raises(ValueError, match="part must be"):
        data.load_wine().tensors("training")


# ---------- moved here by subject: tests written against mutants that survived `make mutation`


def test_two_feature_regression_defaults_formula_and_noise():
    X, y = data.make_two_feature_regression()
    assert X.shape == (200, 2) and y.shape == (200,) and X.dtype == y.dtype == np.float64
    X0, y0 = data.make_two_feature_regression(200, (1.0, 10.0), 0)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)
    X, y = data.make_two_feature_regression(n_samples=2000, scales=(2.0, 50.0), seed=3)
    w, *_ = np.linalg.lstsq(X, y, rcond=None)
    np.testing.assert_allclose(w * np.array([2.0, 50.0]), [2.0, -1.0], atol=0.02)  # w_true = (2, -1) / scales
    residual = y - X @ (np.array([2.0, -1.0]) / np.array([2.0, 50.0]))
    assert abs(residual.mean()) < 0.01 and 0.09 < residual.std() < 0.11
    assert len(data.make_two_feature_regression(n_samples=2)[0]) == 2
    assert not np.array_equal(data.make_two_feature_regression(seed=1)[0], X0)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_samples": 1}, ValueError, r"^n_samples must be >= 2"),
        ({"n_samples": "5"}, TypeError, r"^n_samples must be an int"),
        ({"scales": ("1", 2.0)}, TypeError, r"^scales\[0\] must be a number"),
        ({"scales": (1.0, "2")}, TypeError, r"^scales\[1\] must be a number"),
        ({"scales": (0.0, 1.0)}, ValueError, r"^scales must be positive"),
        ({"seed": -1}, ValueError, r"^seed must be >= 0"),
        ({"seed": 1.5}, TypeError, r"^seed must be an int"),
    ],
)
def test_two_feature_regression_refuses_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        data.make_two_feature_regression(**kwargs)


def test_digits_metadata_defaults_and_scaling():
    split = data.load_digits()
    assert split.name == "digits" and split.n_features == 64
    assert split.feature_names[0] == "pixel_0_0" and split.feature_names[-1] == "pixel_7_7"
    assert len(split.feature_names) == 64
    assert split.X_train.max() == 1.0  # pixels 0..16 divided by 16
    np.testing.assert_array_equal(split.X_train, data.load_digits(seed=0).X_train)
    wine = data.load_wine()
    assert wine.name == "wine" and len(wine.feature_names) == 13 and wine.target_names == ["class_0", "class_1",
                                                                                           "class_2"]
    np.testing.assert_array_equal(wine.X_train, data.load_wine(seed=0).X_train)


def test_subset_train_keeps_rare_classes_in_proportion_and_is_seeded():
    labels = np.array([0] * 90 + [1] * 10)
    idx = data._stratified_first(labels, 10, seed=0)
    assert np.bincount(labels[idx], minlength=2).tolist() == [9, 1]
    split = data.make_blobs(n_samples=100, seed=0)
    one = split.subset_train(1)
    assert len(one.X_train) == 1
    np.testing.assert_array_equal(split.subset_train(20).X_train, split.subset_train(20, seed=0).X_train)
    assert not np.array_equal(split.subset_train(20, seed=0).X_train, split.subset_train(20, seed=1).X_train)
    with pytest.raises(ValueError, match=r"^seed must be >= 0"):
        split.subset_train(5, seed=-1)
    with pytest.raises(ValueError, match=r"^n must be >= 1"):
        split.subset_train(0)


def test_split_describe_and_n_classes():
    split = data.load_wine()
    assert split.describe() == "wine: 106 train / 36 val / 36 test, 13 features"
    assert split.n_classes == 3
    unnamed = data.Split(split.X_train, split.y_train, split.X_val, split.y_val, split.X_test, split.y_test)
    assert unnamed.n_classes == 3  # from the labels when there are no target names


def test_split_tensors_default_part_and_every_part():
    split = data.make_blobs(n_samples=60, seed=0)
    X, y = split.tensors()
    assert torch.equal(X, split.tensors("train")[0]) and torch.equal(y, split.tensors("train")[1])
    assert len(split.tensors("test")[0]) == len(split.X_test) and len(split.tensors("val")[1]) == len(split.y_val)


def test_make_blobs_follows_its_recipe_exactly():
    split = data.make_blobs(n_samples=50, n_features=3, n_classes=2, spread=0.5, seed=7)
    rng = np.random.default_rng(7)
    centers = rng.normal(scale=3.0, size=(2, 3))
    y = rng.integers(0, 2, size=50)
    X = (centers[y] + 0.5 * rng.normal(size=(50, 3))).astype(np.float32)
    train_idx, val_idx, test_idx = data.split_indices(y, 0.2, 0.2, 7)
    np.testing.assert_array_equal(split.X_train, X[train_idx])
    np.testing.assert_array_equal(split.y_test, y[test_idx])
    assert split.name == "blobs" and split.feature_names == ["x0", "x1", "x2"] and split.target_names == ["0", "1"]
    default = data.make_blobs()
    np.testing.assert_array_equal(default.X_train, data.make_blobs(600, 2, 3, 1.0, 0).X_train)
    assert default.n_features == 2 and default.n_classes == 3
    assert len(default.X_train) + len(default.X_val) + len(default.X_test) == 600


def test_make_blobs_smallest_accepted_sizes():
    assert data.make_blobs(n_features=1).n_features == 1
    assert data.make_blobs(n_classes=2).n_classes == 2
    with pytest.raises(ValueError, match=r"^n_samples must be >= 10"):
        data.make_blobs(n_samples=9)
    try:
        data.make_blobs(n_samples=10, n_classes=2, seed=0)
    except ValueError as err:  # the split may refuse 10 examples, but n_samples itself is fine
        assert not str(err).startswith("n_samples")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_features": 0}, ValueError, r"^n_features must be >= 1"),
        ({"n_samples": "600"}, TypeError, r"^n_samples must be an int"),
        ({"seed": -1}, ValueError, r"^seed must be >= 0"),
    ],
)
def test_make_blobs_refuses_bad_sizes(kwargs, error, match):
    with pytest.raises(error, match=match):
        data.make_blobs(**kwargs)


def test_split_indices_messages_and_defaults():
    labels = np.repeat([0, 1], 10)
    for a, b in zip(data.split_indices(labels), data.split_indices(labels, 0.2, 0.2, 0), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="sum to less than 1"):
        data.split_indices(labels, 0.5, 0.5)
    with pytest.raises(ValueError, match=r"^test_fraction is too small for 6 examples: the test part"):
        data.split_indices(np.repeat([0, 1], 3), 0.4, 0.1)
    with pytest.raises(ValueError, match=r"^val_fraction is too small for 6 examples: the validation part"):
        data.split_indices(np.repeat([0, 1], 3), 0.1, 0.4)
    with pytest.raises(ValueError, match=r"^labels contains NaN or inf"):
        data.split_indices(np.array([0.0, 1.0, np.nan] * 5))
    with pytest.raises(TypeError, match=r"^labels must be a 1-D array of class labels, got int 5"):
        data.split_indices(5)
    with pytest.raises(TypeError, match=r"^test_fraction must be a number"):
        data.split_indices(labels, 0.2, "0.2")
    train_idx, _, _ = data.split_indices(np.array([0.0, 1.0] * 10))  # float labels that are finite are fine
    assert len(train_idx) == 12


def test_standardizer_edges():
    assert data.Standardizer().fit(np.array([[1.0], [3.0]])).std_.tolist() == [1.0]  # two rows are enough
    Z = data.Standardizer(eps=0).fit_transform(np.array([[1.0, 2.0], [3.0, 6.0]]))
    np.testing.assert_allclose(Z, [[-1.0, -1.0], [1.0, 1.0]])
    with pytest.raises(RuntimeError, match=r"^Standardizer is not fitted: call \.fit\(X_train\) first\.$"):
        data.Standardizer().transform(np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"^X must have 2 dimensions"):
        data.Standardizer().fit(np.ones(4))
    assert data.Standardizer().eps == 1e-8


def test_two_feature_regression_follows_its_recipe_exactly():
    X, y = data.make_two_feature_regression(n_samples=20, scales=(2.0, 5.0), seed=3)
    rng = np.random.default_rng(3)
    s = np.array([2.0, 5.0])
    X_expected = rng.normal(size=(20, 2)) * s
    y_expected = X_expected @ (np.array([2.0, -1.0]) / s) + 0.1 * rng.normal(size=20)
    np.testing.assert_array_equal(X, X_expected)
    np.testing.assert_array_equal(y, y_expected)


# ---------- moved here by subject: tests written against inputs that used to give a silent wrong result


def test_standardize_flag_accepts_booleans_only():
    with pytest.raises(TypeError, match="standardize must be True or False"):
        data.load_wine(standardize="no")  # used to standardize: any non-empty string is true


def test_negative_standardizer_eps_is_refused():
    with pytest.raises(ValueError, match="eps must be >= 0"):
        data.Standardizer(eps=-1)


def test_standardizer_with_eps_zero_refuses_a_constant_feature():
    X = np.array([[1.0, 5.0], [2.0, 5.0], [3.0, 5.0]])
    with pytest.raises(ValueError, match=r"constant feature\(s\) \[1\].*eps"):
        data.Standardizer(eps=0).fit(X)


@pytest.mark.parametrize("kwargs", [{"val_fraction": 0.0}, {"test_fraction": 0.0}], ids=str)
def test_a_split_with_an_empty_part_is_refused(kwargs):
    with pytest.raises(ValueError, match="val_fraction and test_fraction must be > 0"):
        data.load_wine(**kwargs)


def test_a_split_that_starves_a_class_of_training_examples_is_refused():
    with pytest.raises(ValueError, match=r"leave class .* without any training example"):
        data.load_wine(val_fraction=0.7, test_fraction=0.29)


def test_a_part_that_rounds_to_nothing_is_refused():
    labels = np.repeat([0, 1], 3)  # 3 per class: round(3 * 0.1) = 0 in every class
    with pytest.raises(ValueError, match="val_fraction is too small for 6 examples"):
        data.split_indices(labels, val_fraction=0.1, test_fraction=0.4)


@pytest.mark.parametrize("loader", [data.load_wine, data.load_digits], ids=lambda f: f.__name__)
def test_every_part_is_standardized_with_training_statistics(loader):
    """Planted bug: load_* standardizing the test split with its own statistics."""
    raw, standardized = loader(), loader(standardize=True)
    mean, std = raw.X_train.mean(axis=0), raw.X_train.std(axis=0)
    for part in ("train", "val", "test"):
        expected = (getattr(raw, f"X_{part}") - mean) / (std + 1e-8)
        np.testing.assert_allclose(getattr(standardized, f"X_{part}"), expected, rtol=1e-4, atol=1e-4)
        np.testing.assert_array_equal(getattr(standardized, f"y_{part}"), getattr(raw, f"y_{part}"))


@pytest.mark.parametrize("seed", [0, 1, 5])
@pytest.mark.parametrize("fractions", [(0.2, 0.2), (0.1, 0.3), (0.3, 0.1), (0.45, 0.45)])
def test_split_indices_are_pairwise_disjoint_complete_and_proportional(seed, fractions):
    """Planted bug: test indices overlapping validation indices."""
    labels = np.repeat([0, 1, 2], [50, 30, 20])
    train_idx, val_idx, test_idx = data.split_indices(labels, *fractions, seed=seed)
    assert not set(train_idx) & set(val_idx)
    assert not set(train_idx) & set(test_idx)
    assert not set(val_idx) & set(test_idx)
    np.testing.assert_array_equal(np.sort(np.concatenate([train_idx, val_idx, test_idx])), np.arange(100))
    for cls, count in zip([0, 1, 2], [50, 30, 20], strict=True):
        assert (labels[val_idx] == cls).sum() == round(count * fractions[0])
        assert (labels[test_idx] == cls).sum() == round(count * fractions[1])


# The packaged copies of scikit-learn's wine and digits (course_utils/datafiles/README.md). scikit-learn is in
# the authors' install (requirements-dev.txt) only for these two tests.
DATA_HASHES = {
    "wine_data.csv": "10e8a802908b34f86e5da8ce962f3c806694bc98450a18f61851af59f324bede",
    "digits.csv.gz": "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22",
}


def test_packaged_data_files_are_the_documented_copies():
    import hashlib

    readme = (data.DATA_DIR / "README.md").read_text()
    for name, digest in DATA_HASHES.items():
        assert hashlib.sha256((data.DATA_DIR / name).read_bytes()).hexdigest() == digest, name
        assert name in readme and digest in readme, f"datafiles/README.md must list {name} and its hash"


@pytest.mark.parametrize("name", ["wine", "digits"])
def test_packaged_loaders_equal_scikit_learns_bit_for_bit(name):
    """Same float64 values, labels and names as the scikit-learn loaders the course used before (so every
    committed notebook output still holds), for every split seed a lesson uses."""
    from sklearn import datasets

    if name == "wine":
        bunch = datasets.load_wine()
        X, y, target_names = data._read_wine()
        assert data.WINE_FEATURES == list(bunch.feature_names) and target_names == list(bunch.target_names)
    else:
        bunch = datasets.load_digits()
        X, y = data._read_digits()
    assert X.dtype == bunch.data.dtype and y.dtype == np.int64
    np.testing.assert_array_equal(X, bunch.data)
    np.testing.assert_array_equal(y, bunch.target)


def test_a_damaged_data_file_is_named_with_the_fix(tmp_path, monkeypatch):
    (tmp_path / "digits.csv.gz").write_bytes(b"")
    import gzip

    with gzip.open(tmp_path / "digits.csv.gz", "wt") as f:
        f.write("1,2,3\n")
    (tmp_path / "wine_data.csv").write_text("178,13,class_0,class_1,class_2\n1,2,0\n")
    monkeypatch.setattr(data, "DATA_DIR", tmp_path)
    for load, file in ((data.load_digits, "digits.csv.gz"), (data.load_wine, "wine_data.csv")):
        with pytest.raises(RuntimeError, match=f"{file} is damaged.*Reinstall"):
            load()
