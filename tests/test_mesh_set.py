"""Voxel sets from mesh files: loading, voxelising in the procedural convention, saving."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import trimesh

from generators.data.mesh_set import (
    MeshError,
    build_mesh_set,
    expand_paths,
    load_mesh,
    load_voxel_set,
    save_voxel_set,
    voxelize_mesh,
)
from generators.data.procedural_set import VoxelSet

RES = 32


def _box(extents=(1.0, 2.0, 1.0)) -> trimesh.Trimesh:
    return trimesh.creation.box(extents=extents)


def _tube() -> trimesh.Trimesh:
    """An open cylinder along +Y: the side wall only, no caps (a cup without its bottom)."""
    cyl = trimesh.creation.cylinder(radius=0.5, height=1.0, sections=32)
    side = np.abs(cyl.face_normals[:, 2]) < 0.5
    tube = trimesh.Trimesh(cyl.vertices, cyl.faces[side])
    tube.apply_transform(trimesh.transformations.rotation_matrix(-math.pi / 2, (1, 0, 0)))
    return tube


def _scene() -> trimesh.Scene:
    scene = trimesh.Scene()
    scene.add_geometry(_box((1.0, 0.5, 1.0)), node_name="base")
    upright = trimesh.transformations.rotation_matrix(-math.pi / 2, (1, 0, 0))  # Z axis to +Y
    scene.add_geometry(trimesh.creation.cylinder(radius=0.2, height=1.0), node_name="post",
                       transform=trimesh.transformations.translation_matrix((0, 0.75, 0)) @ upright)
    return scene


@pytest.fixture
def library(tmp_path: Path) -> Path:
    """Category folders of good and bad mesh files."""
    lib = tmp_path / "lib"
    for cat in ("crate", "ball", "prop", "sheet", "bad"):
        (lib / cat).mkdir(parents=True)
    _box().export(lib / "crate" / "box.stl")
    _box().export(lib / "crate" / "box.obj")
    trimesh.creation.icosphere(subdivisions=3).export(lib / "ball" / "sphere.ply")
    _scene().export(lib / "prop" / "lamp.glb")
    _tube().export(lib / "sheet" / "tube.obj")
    (lib / "sheet" / "plane.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 0 1\nf 1 2 3\n")
    (lib / "bad" / "garbage.obj").write_text("this is not\na mesh at all\n")
    (lib / "bad" / "empty.stl").write_bytes(b"")
    (lib / "bad" / "notes.txt").write_text("ignored when expanding a folder")
    (lib / "bad" / ".hidden.obj").write_text("ignored too")
    return lib


def _bbox(vox: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    idx = np.argwhere(vox)
    return idx.min(axis=0), idx.max(axis=0)


def test_build_reports_bad_files_and_keeps_good_ones(library: Path, tmp_path: Path):
    txt = tmp_path / "readme.txt"
    txt.write_text("not a mesh")
    missing = tmp_path / "gone.obj"
    data, skipped = build_mesh_set([library, txt, missing], res=RES, progress=True)

    assert data.categories == ("ball", "crate", "prop", "sheet")
    assert data.voxels.shape == (6, RES, RES, RES) and data.voxels.dtype == bool
    assert data.labels.dtype == np.int64 and data.seeds.dtype == np.int64
    assert data.seeds.tolist() == list(range(6))
    # files in sorted path order: ball/sphere, crate/box.obj, crate/box.stl, prop/lamp,
    # sheet/plane, sheet/tube
    assert [data.categories[i] for i in data.labels] == [
        "ball", "crate", "crate", "prop", "sheet", "sheet"]
    assert all(v.sum() > 0 for v in data.voxels)
    # the box written as obj and as stl voxelises identically
    assert np.array_equal(data.voxels[1], data.voxels[2])

    reasons = {p.name: r for p, r in skipped}
    assert set(reasons) == {"empty.stl", "garbage.obj", "readme.txt", "gone.obj"}
    assert "empty" in reasons["empty.stl"]
    assert "no faces" in reasons["garbage.obj"]
    assert "unsupported extension" in reasons["readme.txt"]
    assert "no such file" in reasons["gone.obj"]


def test_expand_paths_is_sorted_and_skips_other_files(library: Path):
    found = expand_paths([library, library / "crate" / "box.obj"])
    rel = [p.relative_to(library).as_posix() for p in found]
    assert rel == sorted(rel)
    assert "bad/notes.txt" not in rel and "bad/.hidden.obj" not in rel
    assert rel.count("crate/box.obj") == 1
    assert expand_paths([library]) == found


def test_custom_category_and_nothing_usable(library: Path):
    data, _ = build_mesh_set([library / "crate"], res=16, category_of=lambda p: p.suffix[1:])
    assert data.categories == ("obj", "stl") and data.voxels.shape == (2, 16, 16, 16)
    with pytest.raises(ValueError, match="garbage.obj: no faces"):
        build_mesh_set([library / "bad"])
    (library / "void").mkdir()
    with pytest.raises(ValueError, match="no mesh files found"):
        build_mesh_set([library / "void"])


def test_box_follows_the_procedural_convention(library: Path):
    for vox in (voxelize_mesh(_box(), RES), voxelize_mesh(load_mesh(library / "crate/box.stl"))):
        lo, hi = _bbox(vox)
        assert lo[1] == 1 and hi[1] == RES - 2  # height res - 2, standing on y layer 1
        assert lo[0] + hi[0] == RES - 1 and lo[2] + hi[2] == RES - 1  # centred in x and z
        assert hi[0] - lo[0] + 1 == pytest.approx((RES - 2) / 2, abs=1.5)
        # a box fills its bounding box of voxels
        assert vox[lo[0]:hi[0] + 1, lo[1]:hi[1] + 1, lo[2]:hi[2] + 1].all()
        assert vox.sum() == np.prod(hi - lo + 1)


def test_wide_mesh_keeps_an_empty_border():
    flat = voxelize_mesh(_box((3.0, 0.2, 1.0)), RES)
    lo, hi = _bbox(flat)
    assert (lo[0], hi[0]) == (1, RES - 2) and lo[1] == 1
    assert lo[2] + hi[2] == RES - 1


def test_sphere_volume_is_close_to_analytic():
    vox = voxelize_mesh(trimesh.creation.icosphere(subdivisions=4), RES)
    r = (RES - 2) / 2
    lo, hi = _bbox(vox)
    assert lo.tolist() == [1, 1, 1] and hi.tolist() == [RES - 2] * 3
    assert vox.sum() == pytest.approx(4 / 3 * math.pi * r ** 3, rel=0.15)
    # the convention grows the shape by half a voxel: closer still to that volume
    assert vox.sum() == pytest.approx(4 / 3 * math.pi * (r + 0.5) ** 3, rel=0.05)
    assert vox[RES // 2, RES // 2, RES // 2]  # filled, not a shell


def test_open_meshes_give_a_shell(library: Path):
    tube = voxelize_mesh(load_mesh(library / "sheet/tube.obj"), RES)
    assert tube.sum() > 0
    lo, hi = _bbox(tube)
    assert lo[1] == 1 and hi[1] == RES - 2
    c = RES // 2
    assert not tube[c, 1:RES - 1, c].any()  # hollow down the axis
    assert tube[lo[0], c, c] and tube[hi[0], c, c]  # but walled
    # the same cylinder with caps is closed and filled
    closed = voxelize_mesh(trimesh.creation.cylinder(radius=0.5, height=1.0).apply_transform(
        trimesh.transformations.rotation_matrix(-math.pi / 2, (1, 0, 0))), RES)
    assert closed[c, 1:RES - 1, c].all() and closed.sum() > 2 * tube.sum()

    plane = voxelize_mesh(load_mesh(library / "sheet/plane.obj"), RES)
    assert plane.sum() > 0
    assert np.flatnonzero(plane.any(axis=(0, 2))).tolist() == [1]  # a sheet on layer 1


def test_open_mesh_with_a_hole_still_fills():
    sphere = trimesh.creation.icosphere(subdivisions=3)
    holed = trimesh.Trimesh(sphere.vertices, sphere.faces[sphere.triangles_center[:, 1] < 0.95])
    assert not holed.is_watertight
    full, vox = voxelize_mesh(sphere, RES), voxelize_mesh(holed, RES)
    assert vox.sum() >= 0.97 * full.sum()


def test_scene_is_flattened_with_its_transforms(library: Path):
    mesh = load_mesh(library / "prop/lamp.glb")
    assert np.allclose(mesh.bounds, _scene().bounds)
    assert len(mesh.faces) == sum(len(g.faces) for g in _scene().geometry.values())
    vox = voxelize_mesh(mesh, RES)
    lo, hi = _bbox(vox)
    assert lo[1] == 1 and hi[1] == RES - 2
    # the post stands on the base: a thin column above a wide slab
    assert vox[:, 3].sum() > 4 * vox[:, RES - 4].sum() > 0


@pytest.mark.parametrize(("name", "content", "reason"), [
    ("a.fbx", b"Kaydara FBX Binary", "unsupported extension"),
    ("b.obj", b"", "empty file"),
    ("c.obj", b"hello\nworld\n", "no faces"),
    ("d.ply", b"not a ply at all", "unreadable ply"),
    ("e.glb", b"glTF but not really", "unreadable glb"),
    ("f.obj", b"v 1 1 1\nv 1 1 1\nv 1 1 1\nf 1 2 3\n", "zero extent"),
    ("g.obj", b"v nan 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n", "NaN"),
])
def test_load_mesh_errors_name_file_and_reason(tmp_path: Path, name: str, content: bytes,
                                              reason: str):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(MeshError, match=reason) as info:
        load_mesh(path)
    assert isinstance(info.value, ValueError)
    assert info.value.path == path and str(path) in str(info.value)


def test_voxelize_rejects_bad_input():
    with pytest.raises(ValueError, match="no faces"):
        voxelize_mesh(trimesh.Trimesh(), RES)
    with pytest.raises(ValueError, match="res"):
        voxelize_mesh(_box(), 2)


@pytest.mark.parametrize("res", [RES, 12])
def test_save_load_round_trip(tmp_path: Path, res: int):
    rng = np.random.default_rng(0)
    data = VoxelSet(rng.random((5, res, res, res)) < 0.3, np.array([0, 1, 1, 0, 1]),
                    np.arange(5, dtype=np.int64) + 7, ("chair", "lamp"))
    path = tmp_path / "out" / "set.npz"
    save_voxel_set(data, path)
    assert sorted(p.name for p in path.parent.iterdir()) == ["set.npz"]  # no temp left over
    back = load_voxel_set(path)
    assert np.array_equal(back.voxels, data.voxels) and back.voxels.dtype == bool
    assert np.array_equal(back.labels, data.labels) and back.labels.dtype == np.int64
    assert np.array_equal(back.seeds, data.seeds) and back.seeds.dtype == np.int64
    assert back.categories == data.categories
    with np.load(path) as z:
        assert int(z["res"]) == res
        assert np.array_equal(z["voxels"], np.packbits(data.voxels, axis=-1))


def test_load_reads_a_procedural_cache(tmp_path: Path):
    vox = np.zeros((2, 16, 16, 16), dtype=bool)
    vox[:, 1:5, 1, 3:9] = True
    path = tmp_path / "procedural.npz"
    np.savez_compressed(path, voxels=np.packbits(vox, axis=-1), labels=np.array([0, 0]),
                        seeds=np.array([1, 2]), categories=np.array(("vase",)))
    back = load_voxel_set(path)
    assert np.array_equal(back.voxels, vox) and back.categories == ("vase",)


def test_save_rejects_an_inconsistent_set(tmp_path: Path):
    vox = np.zeros((2, 8, 8, 8), dtype=bool)
    with pytest.raises(ValueError, match="labels must index"):
        save_voxel_set(VoxelSet(vox, np.array([0, 3]), np.arange(2), ("a",)), tmp_path / "x.npz")
    assert not list(tmp_path.iterdir())


def test_load_corrupt_sets_raise_value_error(tmp_path: Path):
    good = tmp_path / "good.npz"
    save_voxel_set(VoxelSet(np.ones((1, 8, 8, 8), dtype=bool), np.array([0]), np.array([0]),
                            ("a",)), good)
    blob = good.read_bytes()
    cases = {
        "garbage.npz": b"\x00\x01 definitely not numpy" * 10,
        "truncated.npz": blob[: len(blob) // 2],
        "empty.npz": b"",
    }
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
    np.savez(tmp_path / "partial.npz", voxels=np.zeros((1, 8, 8, 1), dtype=np.uint8))
    np.savez(tmp_path / "badres.npz", voxels=np.zeros((1, 8, 8, 1), dtype=np.uint8),
             labels=np.array([0]), seeds=np.array([0]), categories=np.array(["a"]), res=16)
    np.savez(tmp_path / "badlabel.npz", voxels=np.zeros((1, 8, 8, 1), dtype=np.uint8),
             labels=np.array([4]), seeds=np.array([0]), categories=np.array(["a"]))
    np.save(tmp_path / "bare.npy", np.zeros(3))
    for name in [*cases, "partial.npz", "badres.npz", "badlabel.npz", "bare.npy"]:
        with pytest.raises(ValueError, match="not a valid voxel set") as info:
            load_voxel_set(tmp_path / name)
        assert name in str(info.value)
    with pytest.raises(FileNotFoundError):
        load_voxel_set(tmp_path / "absent.npz")


def test_z_up_meshes_are_turned_to_y_up(tmp_path: Path):
    (tmp_path / "post").mkdir()
    _box((0.2, 0.3, 1.0)).export(tmp_path / "post" / "tall.stl")  # tall along Z
    lying, _ = build_mesh_set([tmp_path], RES)
    standing, _ = build_mesh_set([tmp_path], RES, up_axis="z")
    (lo, hi), (slo, shi) = _bbox(lying.voxels[0]), _bbox(standing.voxels[0])
    assert np.argmax(hi - lo) == 2 and np.argmax(shi - slo) == 1  # its height is now Y
    with pytest.raises(ValueError, match="up axis"):
        build_mesh_set([tmp_path], RES, up_axis="x")


def test_category_sizes_are_median_longest_sides_in_metres(tmp_path: Path):
    for cat, sides in (("stool", (40, 45, 60)), ("shelf", (180,))):
        (tmp_path / cat).mkdir()
        for i, side in enumerate(sides):
            _box((side * 0.5, side, side * 0.3)).export(tmp_path / cat / f"{i}.stl")
    data, _ = build_mesh_set([tmp_path], RES, units="cm")
    assert data.extent_m == {"shelf": 1.8, "stool": 0.45}
    save_voxel_set(data, tmp_path / "set.npz")
    assert load_voxel_set(tmp_path / "set.npz").extent_m == {"shelf": 1.8, "stool": 0.45}


def test_the_build_command_writes_a_set_and_refuses_missing_paths(tmp_path: Path, capsys):
    from generators.data.mesh_set import main

    (tmp_path / "crate").mkdir()
    _box().export(tmp_path / "crate" / "a.stl")
    out = tmp_path / "set.npz"
    assert main(["build", str(tmp_path / "crate"), "--units", "mm", "-o", str(out)]) == 0
    assert "1 shapes" in capsys.readouterr().out
    assert load_voxel_set(out).extent_m == {"crate": 0.002}
    assert main(["build", str(tmp_path / "nowhere"), "-o", str(out)]) == 2
    assert "no such file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--help"])


def test_every_mesh_keeps_its_own_size(tmp_path: Path):
    # A studio's stools and bar stools: one category, two sizes that a size model must see.
    (tmp_path / "stool").mkdir()
    for i, side in enumerate((45, 75, 46)):
        _box((side * 0.5, side, side * 0.5)).export(tmp_path / "stool" / f"{i}.stl")
    data, _ = build_mesh_set([tmp_path], RES, units="cm")
    assert data.sizes_m == pytest.approx([0.45, 0.75, 0.46])
    save_voxel_set(data, tmp_path / "set.npz")
    assert load_voxel_set(tmp_path / "set.npz").sizes_m == pytest.approx([0.45, 0.75, 0.46])
