"""The shared shape-model evaluation: table numbers behave as defined on known samplers."""

import numpy as np
import pytest

from generators.data import build_voxel_set
from generators.metrics.evaluate import _iou_shortlist, evaluate, format_table

CATS = ("vase", "table")


@pytest.fixture(scope="module")
def sets():
    # Tiny sets, built directly (no disk cache): 12 held-out and 24 training shapes a category.
    heldout = build_voxel_set("heldout", 12, 32, categories=CATS)
    train = build_voxel_set("train", 24, 32, categories=CATS)
    return heldout, train


def test_copying_the_training_set_is_caught_by_the_memorisation_check(sets):
    heldout, train = sets
    report = evaluate(lambda c, n, s: train.of(c)[:n], CATS, heldout, train, n=8, points=256)
    for r in report.results:
        assert np.all(r.gen_to_train == 0.0)  # every generated shape IS a training shape
        assert np.all(r.heldout_to_train > 0.0)
        assert r.memorisation_ratio == 0.0
        assert r.model == r.floor  # the sampler is exactly the floor's training shapes


def test_fresh_shapes_of_the_family_score_like_the_floor(sets):
    heldout, train = sets
    # Shapes the metric has not seen: the last 8 training shapes (the floor uses the first 8).
    report = evaluate(lambda c, n, s: train.of(c)[-n:], CATS, heldout, train, n=8, points=256)
    for r in report.results:
        assert 0.2 <= r.model["nna_cd"] <= 0.8
        assert r.model["cov_cd"] >= 0.5
        assert r.memorisation_ratio == 0.0  # they are in the memorisation pool: exact copies
    table = format_table(report, "t")
    assert "vase" in table and "mean" in table


def test_an_empty_or_blob_generator_scores_badly(sets):
    heldout, train = sets

    def blob(c, n, s):
        v = np.zeros((n, 32, 32, 32), np.float32)
        v[:, 10:22, 1:13, 10:22] = 1.0  # the same cube every time: mode collapse
        v[0] = 0.0  # and one empty grid
        return v

    report = evaluate(blob, CATS, heldout, train, n=8, points=256)
    for r in report.results:
        assert r.model["nna_cd"] >= 0.9
        assert r.model["cov_cd"] <= 0.25
        assert r.empty == 1
        assert r.memorisation_ratio > 1.0


def test_too_few_shapes_is_a_clear_error(sets):
    heldout, train = sets
    with pytest.raises(ValueError, match="need 20 held-out"):
        evaluate(lambda c, n, s: train.of(c)[:n], CATS, heldout, train, n=20, points=64)


def test_iou_shortlist_finds_the_identical_grid():
    rng = np.random.default_rng(0)
    pool = rng.random((10, 8, 8, 8)) > 0.7
    idx = _iou_shortlist(pool[[3, 7]], pool, 2)
    assert idx[0, 0] == 3 and idx[1, 0] == 7


def test_bootstrap_interval_brackets_the_ratio_and_narrows_with_n():
    from generators.metrics.evaluate import bootstrap_ratio_interval

    rng = np.random.default_rng(0)
    small = bootstrap_ratio_interval(rng.gamma(4, 1, 50), rng.gamma(4, 1, 50))
    big = bootstrap_ratio_interval(rng.gamma(4, 1, 2000), rng.gamma(4, 1, 2000))
    assert small[0] < 1 < small[1] and big[0] < 1 < big[1]  # same distribution both sides
    assert big[1] - big[0] < 0.5 * (small[1] - small[0])
    _, hi = bootstrap_ratio_interval(rng.gamma(4, 1, 200) * 0.5, rng.gamma(4, 1, 200))
    assert hi < 0.7  # a generator twice as close to the training set is clearly flagged


def _eval_parser():
    import argparse

    from generators.metrics.evaluate import add_arguments

    ap = argparse.ArgumentParser()
    add_arguments(ap)
    return ap


def test_quick_mode_and_served_flags():
    from generators.metrics.evaluate import QUICK_N, parse_eval_args, served_tables

    ap = _eval_parser()
    a = parse_eval_args(ap, [])
    assert (a.n, a.train_per_category, a.served_n, a.quick) == (50, 500, 50, False)
    q = parse_eval_args(ap, ["--quick"])
    assert (q.n, q.train_per_category, q.served_n) == (QUICK_N, 100, QUICK_N)
    b = parse_eval_args(ap, ["--quick", "--n", "20", "--served-n", "5"])
    assert (b.n, b.served_n) == (20, 5)
    assert a.draws == "served" and a.sheet is None  # the normalised table scores served draws
    assert parse_eval_args(ap, ["--draws", "first"]).draws == "first"
    with pytest.raises(SystemExit):
        parse_eval_args(ap, ["--served-n", "1"])
    # A training run is not served; --no-served skips the tables: neither builds anything.
    assert served_tables("voxel-gan", ["vase"], parse_eval_args(ap, ["--no-served"])) is None
    assert served_tables("voxel-gan", ["vase"], parse_eval_args(ap, ["--run", "x"])) is None
