import numpy as np
import pytest

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
