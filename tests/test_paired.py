"""course_utils.paired: the helper that carries every "A beats B" claim of the course."""

import pytest

from course_utils.paired import compare, compare_all, paired


def test_every_seed_agreeing_supports_the_claim():
    result = paired("BN", [0.91, 0.93, 0.92], "none", [0.90, 0.92, 0.915], seeds=[0, 1, 2], metric="val_acc")
    assert result.supports()
    assert result.wins == 3
    assert result.differences == pytest.approx([0.01, 0.01, 0.005])
    result.assert_supports()
    assert "all 3 seeds" in result.verdict()


def test_overlapping_seed_ranges_can_still_be_carried_by_the_pairing():
    # Seed-to-seed spread (0.80 .. 0.95) is far larger than the gain, but every pair favours A.
    a = [0.81, 0.95, 0.88, 0.91]
    b = [0.80, 0.94, 0.87, 0.90]
    assert paired("A", a, "B", b, seeds=[0, 1, 2, 3]).supports()


def test_mixed_signs_within_the_spread_do_not_support_the_claim():
    result = paired("dropout", [0.90, 0.92, 0.91], "none", [0.91, 0.90, 0.905], seeds=[0, 1, 2])
    assert not result.supports()
    assert result.verdict().startswith("not supported")
    with pytest.raises(AssertionError, match="does not carry the claim 'dropout helps'"):
        result.assert_supports("dropout helps")


def test_mean_gain_beyond_the_spread_supports_despite_one_losing_seed():
    gains = [0.05, 0.06, 0.055, 0.05, -0.001]
    result = paired("A", [1 + g for g in gains], "B", [1.0] * 5, seeds=range(5))
    assert result.wins == 4
    assert result.mean_gain > result.spread
    assert result.supports()


def test_lower_is_better_flips_the_orientation():
    # Steps to a target: fewer is better. A needs fewer steps on every seed.
    result = paired("BN", [300, 250, 400], "none", [900, 800, 1000], seeds=[0, 1, 2], higher_is_better=False)
    assert result.supports()
    assert result.gains.tolist() == [600, 550, 600]
    reverse = paired("none", [900, 800, 1000], "BN", [300, 250, 400], seeds=[0, 1, 2], higher_is_better=False)
    assert not reverse.supports()
    assert "other way" in reverse.verdict()


def test_a_tie_on_every_seed_is_not_a_win():
    assert not paired("A", [0.5, 0.5], "B", [0.5, 0.5], seeds=[0, 1]).supports()


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

    result = compare(run, {"big": 1.0, "small": 0.5}, seeds=[0, 1, 2], metric="score")
    assert sorted(calls) == sorted([(c, s) for c in (1.0, 0.5) for s in (0, 1, 2)])
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
