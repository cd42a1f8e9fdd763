"""Served-prop measures: structure (pieces, standing, hovering), sizes, metric-scale clouds."""

import numpy as np
import pytest
import trimesh

from generators.metrics import served as S


def _box(lo, hi):
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    b = trimesh.creation.box(extents=hi - lo)
    b.apply_translation((lo + hi) / 2)
    return b


def _join(*meshes):
    m = trimesh.util.concatenate(meshes)
    return S.weld(m.vertices, m.faces)


def test_one_solid_on_the_floor_stands():
    st = S.structure(*_join(_box((-0.2, 0, -0.2), (0.2, 0.8, 0.2))))
    assert st.pieces == 1 and st.one_piece and st.stands and st.lowest_m == pytest.approx(0)


def test_a_hovering_part_is_detected():
    # A lamp stem 4 cm above its base: two pieces, the stem touches neither floor nor base.
    base = _box((-0.1, 0, -0.1), (0.1, 0.03, 0.1))
    stem = _box((-0.01, 0.07, -0.01), (0.01, 0.6, 0.01))
    st = S.structure(*_join(base, stem))
    assert st.pieces == 2 and st.standing == 1 and not st.stands


def test_a_shape_lifted_off_the_floor_does_not_stand():
    st = S.structure(*_join(_box((0, 0.05, 0), (0.3, 0.5, 0.3))))
    assert st.pieces == 1 and not st.stands and st.lowest_m == pytest.approx(0.05)


def test_two_pieces_touching_are_one_stand():
    # A table top resting on a pedestal: separate meshes in contact, and a third piece resting
    # on the top (touching transitively).
    ped = _box((-0.05, 0, -0.05), (0.05, 0.7, 0.05))
    top = _box((-0.5, 0.7, -0.4), (0.5, 0.74, 0.4))
    vase = _box((0.3, 0.745, 0.2), (0.35, 0.9, 0.25))  # 5 mm above the top: within TOUCH_M
    st = S.structure(*_join(ped, top, vase))
    assert st.pieces == 3 and st.stands and not st.one_piece


def test_an_enclosed_cavity_belongs_to_its_solid():
    outer = _box((-0.3, 0, -0.3), (0.3, 0.6, 0.3))
    cavity = _box((-0.1, 0.2, -0.1), (0.1, 0.4, 0.1))
    cavity.invert()
    st = S.structure(*_join(outer, cavity))
    assert st.pieces == 2 and st.stands


def test_weld_joins_vertices_split_at_seams():
    b = _box((0, 0, 0), (1, 1, 1))
    v, f = b.vertices[b.faces].reshape(-1, 3), np.arange(36).reshape(12, 3)  # every face alone
    assert S.structure(v, f).pieces == 12
    wv, wf = S.weld(v, f)
    assert len(wv) == 8 and S.structure(wv, wf).pieces == 1


def test_size_is_height_and_larger_horizontal_extent():
    v, _ = _join(_box((-0.2, 0, -0.5), (0.2, 0.9, 0.5)))
    assert S.size(v) == pytest.approx((0.9, 1.0))


def test_metric_scale_distances_are_in_metres():
    small = [_join(_box((-0.25, 0, -0.25), (0.25, 0.5, 0.25)))]
    large = [_join(_box((-0.5, 0, -0.5), (0.5, 1.0, 0.5)))]
    same = S.metric_scale(small, small, points=512)
    assert same["mmd_cd"] < 0.005  # sampling noise only
    twice = S.metric_scale(small, large, points=512)
    # The same shape at twice the size: points ~0.25 m apart on average, squared ~0.05 m^2
    # summed both ways; a normalised comparison would call these identical.
    assert 0.02 < twice["mmd_cd"] < 0.3
    lifted = [_join(_box((-0.25, 1.0, -0.25), (0.25, 1.5, 0.25)))]
    far = S.metric_scale(small, lifted, points=512)  # 1 m up: every point >= 0.5 m away
    assert far["mmd_cd"] > 2 * 0.5 ** 2


def test_served_props_come_through_the_pipeline_and_stand():
    from generators.core.registry import load_models
    from generators.pipeline import Pipeline

    pipe = Pipeline(load_models(["procedural"]))
    meshes = S.served(pipe, "procedural", "column", [3_750_000_000, 5])
    for v, f in meshes:
        st = S.structure(v, f)
        assert st.one_piece and st.stands
        assert 1.5 < S.size(v)[0] < 3.5  # metres, as served
    report = S.evaluate_served([], ["column"], 2, loaded=pipe.models)
    text = S.format_served(report)
    assert "sizes of served props" in text and "procedural" in text
    row = report.models["procedural"][0]
    assert row.n == 2 and row.stands == 1.0 and row.one_piece == 1.0


def test_redraws_and_repairs_are_counted_from_the_metadata():
    meta = [{"structure": {"attempt": 1, "pieces": 1, "kept": 1, "dropped": 0,
                           "dropped_share": 0.0}},
            {"structure": {"attempt": 3, "pieces": 4, "kept": 1, "dropped": 3,
                           "dropped_share": 0.004}},
            {"structure": {"attempt": 8, "pieces": 2, "kept": 2, "dropped": 0,
                           "dropped_share": 0.0}},
            {"structure": {"attempt": 1, "pieces": 1, "kept": 1, "dropped": 0,
                           "dropped_share": 0.0}}]
    r = S.repairs(meta)
    assert r["redrawn"] == 0.5 and r["mean_attempts"] == pytest.approx(13 / 4)
    assert r["debris_dropped"] == 0.25 and r["dropped_share"] == pytest.approx(0.001)
    assert r["in_pieces"] == 0.25
    assert S.repairs([{}, {"occupied_voxels": 3}]) is None  # a model that reports none


def test_size_check_holds_issue_14s_bounds():
    def row(cat, h, w):
        return S.ServedCategory(cat, 10, h, w, 1.0, 1.0, None)

    report = S.ServedReport({}, 16, models={
        "procedural": [row("lamp", (1.0, 0.5), (0.4, 0.2)), row("vase", (0.4, 0.1), (0.2, 0.05))],
        "m": [row("lamp", (0.95, 0.45), (0.42, 0.15)), row("vase", (0.4, 0.01), (0.2, 0.05))]})
    got = S.size_check(report)["m"]
    assert got["lamp"]["ok"] and got["lamp"]["height_sd_ratio"] == pytest.approx(0.9)
    assert not got["vase"]["ok"]  # every vase of one height: sd ratio 0.1


def test_a_learned_model_reports_its_redraws_and_sheet(tmp_path):
    report = S.evaluate_served(["voxel-gan"], ["lamp"], 2, points=256,
                               sheet_path=tmp_path / "sheet.png")
    row = report.models["voxel-gan"][0]
    assert row.repairs is not None and 1 <= row.repairs["mean_attempts"] <= 8
    assert row.height[1] > 0  # two lamps, two sizes
    text = S.format_served(report)
    assert "redraws and repairs" in text and "sizes against the reference" in text
    from PIL import Image

    sheet = Image.open(tmp_path / "sheet.png")
    assert sheet.size[0] == 8 * 128 and sheet.size[1] > 4 * 128  # two blocks of 2 x 8
