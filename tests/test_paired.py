"""course_utils.paired: the helper that carries every "A beats B" claim of the course."""

import numpy as np
import pytest

from course_utils.paired import ALPHA, MIN_SEEDS, Paired, compare, compare_all, paired, sign_flip_p_value


def test_every_one_of_five_seeds_agreeing_supports_the_claim():
    result = paired("BN", [0.91, 0.93, 0.92, 0.95, 0.90], "none", [0.90, 0.92, 0.915, 0.94, 0.89],
                    seeds=range(5), metric="val_acc")  # fmt: skip
    assert result.wins == 5
    assert result.p_value == pytest.approx(1 / 32)
    assert result.supports()
    result.assert_supports()
    assert result.verdict().startswith("supported") and "p = 0.031" in result.verdict()


def test_three_seeds_all_agreeing_support_nothing():
    # The old rule ("every seed agrees") accepted this: 1 chance in 8 under no effect.
    result = paired("BN", [0.91, 0.93, 0.92], "none", [0.90, 0.92, 0.915], seeds=[0, 1, 2])
    assert not result.supports()
    assert "too few seeds" in result.verdict()
    with pytest.raises(AssertionError, match="does not carry the claim"):
        result.assert_supports()


def test_one_loss_among_five_seeds_is_not_enough():
    gains = [0.05, 0.06, 0.055, 0.05, -0.001]  # the old rule (mean gain > spread) accepted this
    result = paired("A", [1 + g for g in gains], "B", [1.0] * 5, seeds=range(5))
    assert result.wins == 4
    assert result.p_value == pytest.approx(2 / 32)
    assert not result.supports()


def test_more_seeds_let_large_wins_outweigh_a_small_loss():
    gains = [0.05, 0.06, 0.055, 0.05, 0.07, 0.04, 0.065, -0.001]
    result = paired("A", [1 + g for g in gains], "B", [1.0] * 8, seeds=range(8))
    assert result.p_value == pytest.approx(2 / 256)
    assert result.supports()


def test_mixed_signs_within_the_noise_do_not_support_the_claim():
    result = paired("dropout", [0.90, 0.92, 0.91, 0.93, 0.90], "none", [0.91, 0.90, 0.905, 0.94, 0.89], seeds=range(5))
    assert not result.supports() and not result.reverse().supports()
    assert result.verdict().startswith("not supported")
    with pytest.raises(AssertionError, match="does not carry the claim 'dropout helps'"):
        result.assert_supports("dropout helps")


def test_lower_is_better_flips_the_orientation():
    # Steps to a target: fewer is better. A needs fewer steps on every seed.
    result = paired("BN", [300, 250, 400, 350, 200], "none", [900, 800, 1000, 700, 600], seeds=range(5),
                    higher_is_better=False)  # fmt: skip
    assert result.supports()
    assert result.gains.tolist() == [600, 550, 600, 350, 400]
    reverse = result.reverse()
    assert not reverse.supports()
    assert reverse.verdict().startswith("the other way")


def test_ties_are_not_wins():
    result = paired("A", [0.5] * 5, "B", [0.5] * 5, seeds=range(5))
    assert result.wins == 0 and result.ties == 5
    assert not result.supports()
    # Four wins and a tie: the tie counts against the claim (p = 2/32, not 1/32).
    almost = paired("A", [0.6, 0.6, 0.6, 0.6, 0.5], "B", [0.5] * 5, seeds=range(5))
    assert almost.p_value == pytest.approx(2 / 32)
    assert not almost.supports()


def test_sign_flip_p_value_counts_sign_patterns_exactly():
    assert sign_flip_p_value([1.0, 1.0]) == pytest.approx(1 / 4)
    assert sign_flip_p_value([3.0, -1.0]) == pytest.approx(2 / 4)  # (3,-1) and (3,1) reach a sum >= 2
    assert sign_flip_p_value([-1.0, -1.0, -1.0]) == pytest.approx(1.0)
    many = sign_flip_p_value(np.linspace(0.1, 1, 20))  # sampled beyond 16 seeds, fixed generator
    assert many == sign_flip_p_value(np.linspace(0.1, 1, 20)) and many < 1e-3
    with pytest.raises(ValueError, match="finite"):
        sign_flip_p_value([1.0, float("inf")])


def _rate_supported_under_no_effect(rule, n_seeds, draw, trials=3000, seed=0):
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(trials):
        a, b = draw(rng, n_seeds), draw(rng, n_seeds)  # A and B equally good: same distribution, per seed
        hits += rule(a, b, n_seeds)
    return hits / trials


def _course_rule(a, b, n):
    return paired("A", a, "B", b, seeds=range(n)).supports()


def _old_rule(a, b, n):
    g = np.asarray(a) - np.asarray(b)
    return bool(np.all(g > 0) or (g.mean() > 0 and g.mean() > g.std(ddof=1)))


NULL_DRAWS = {
    "normal": lambda rng, n: rng.normal(0.9, 0.02, n),
    "heavy-tailed": lambda rng, n: 0.9 + 0.01 * rng.standard_t(2, n),
    "skewed": lambda rng, n: rng.lognormal(0.0, 1.0, n),
    "discrete (ties)": lambda rng, n: rng.integers(0, 3, n) / 100,
}


@pytest.mark.parametrize("n_seeds", [5, 6, 8])
@pytest.mark.parametrize("distribution", sorted(NULL_DRAWS))
def test_the_rule_says_supported_at_most_5_percent_of_the_time_under_no_effect(n_seeds, distribution):
    rate = _rate_supported_under_no_effect(_course_rule, n_seeds, NULL_DRAWS[distribution])
    # 3000 trials: the rate's standard error at 5% is 0.4 points; allow 3 of them.
    assert rate <= ALPHA + 3 * np.sqrt(ALPHA * (1 - ALPHA) / 3000), f"false-positive rate {rate:.3f}"


def test_the_old_rule_was_wrong_too_often_which_is_why_it_went():
    rate = _rate_supported_under_no_effect(_old_rule, 3, NULL_DRAWS["normal"])
    assert rate > 0.08  # measured ~0.12: every-seed (1/8) plus mean > spread


def test_the_rule_finds_a_real_effect():
    # A real gain of one spread per seed: the rule supports it most of the time with 8 seeds.
    rng = np.random.default_rng(1)
    hits = sum(
        paired("A", rng.normal(1.0, 1.0, 8) + 1.0, "B", rng.normal(1.0, 1.0, 8), seeds=range(8)).supports()
        for _ in range(500)
    )
    assert hits / 500 > 0.5
    assert MIN_SEEDS == 5


def test_a_directly_built_paired_with_unequal_lengths_is_refused():
    with pytest.raises(ValueError, match="one number per seed"):
        Paired("A", "B", "m", (0, 1, 2, 3, 4), (1.0,) * 5, (0.0,))


def test_table_shows_every_seed_and_the_difference():
    text = str(paired("A", [0.9, 0.8], "B", [0.85, 0.7], seeds=[3, 7], metric="val_acc"))
    assert "val_acc" in text
    lines = text.splitlines()
    assert any(line.split()[0] == "3" and "+0.05" in line for line in lines)
    assert any(line.split()[0] == "7" and "+0.1" in line for line in lines)


def test_compare_runs_both_configs_with_the_same_seeds():
    calls = []

    def run(config, seed):
        calls.append((config, seed))
        return config + seed / 100

    result = compare(run, {"big": 1.0, "small": 0.5}, seeds=range(5), metric="score")
    assert sorted(calls) == sorted([(c, s) for c in (1.0, 0.5) for s in range(5)])
    assert result.a == "big" and result.b == "small"
    assert result.supports()
    assert compare_all(run, {"x": 0.0, "y": 1.0, "z": 2.0}, seeds=[0, 1])["z"] == (2.0, 2.01)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"seeds": [0]}, ValueError, "at least 2 seeds"),
        ({"seeds": [0, 0]}, ValueError, "distinct"),
        ({"a_values": [0.1, float("nan")]}, ValueError, "non-finite"),
        ({"a_values": [0.1, 0.2, 0.3]}, ValueError, "one number per seed"),
        ({"a_values": ["x", "y"]}, TypeError, "sequence of numbers"),
        ({"a_values": "12"}, TypeError, "sequence of numbers"),
        ({"a_values": [True, False]}, TypeError, "sequence of numbers"),
        ({"a_values": [1e308, 1e308], "b_values": [-1e308, -1e308]}, ValueError, "overflows"),
        ({"seeds": [0, -1]}, ValueError, "seeds"),
        ({"higher_is_better": "yes"}, TypeError, "higher_is_better"),
        ({"a": ""}, TypeError, "non-empty string"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(kwargs, error, match):
    args = {"a": "A", "a_values": [0.1, 0.2], "b": "B", "b_values": [0.0, 0.1], "seeds": [0, 1]} | kwargs
    with pytest.raises(error, match=match):
        paired(args.pop("a"), args.pop("a_values"), args.pop("b"), args.pop("b_values"), **args)


def test_compare_refuses_anything_but_two_configs():
    with pytest.raises(ValueError, match="exactly two"):
        compare(lambda c, s: 0.0, {"a": 1, "b": 2, "c": 3}, seeds=[0, 1])
    with pytest.raises(TypeError, match="run must be a function"):
        compare_all(None, {"a": 1, "b": 2}, seeds=[0, 1])
