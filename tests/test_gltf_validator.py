"""The glTF-Validator wrapper itself: it must pass a valid GLB and fail broken ones.

Imported as ``support.gltf_validator``: tests/conftest.py puts ``tests/`` on sys.path (and
pytest's default "prepend" import mode does too, as ``tests/`` has no ``__init__.py``).
"""

from __future__ import annotations

import json
import struct

import pytest
from support import gltf_validator
from support.gltf_validator import assert_valid_glb, validate_glb

ARRAY_BUFFER = 34962
ELEMENT_ARRAY_BUFFER = 34963
FLOAT = 5126
UNSIGNED_SHORT = 5123


def _glb(gltf: dict, binary: bytes) -> bytes:
    """Pack a glTF JSON document and its binary buffer into a GLB container."""
    json_chunk = json.dumps(gltf, separators=(",", ":")).encode()
    json_chunk += b" " * (-len(json_chunk) % 4)
    binary += b"\0" * (-len(binary) % 4)
    total = 12 + 8 + len(json_chunk) + 8 + len(binary)
    return (
        struct.pack("<4sII", b"glTF", 2, total)
        + struct.pack("<I4s", len(json_chunk), b"JSON")
        + json_chunk
        + struct.pack("<I4s", len(binary), b"BIN\0")
        + binary
    )


def triangle_glb(*, bounds: bool = True, wrong_max: bool = False, unused_accessor: bool = False):
    """One triangle in the XY plane facing +Z: POSITION (with min/max) and uint16 indices."""
    positions = [(0.0, 0.0, 0.0), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0)]
    pos_bytes = b"".join(struct.pack("<3f", *p) for p in positions)  # 36 bytes
    idx_bytes = struct.pack("<3H", 0, 1, 2) + b"\0\0"  # 6 bytes, padded to 8
    binary = pos_bytes + idx_bytes
    position = {"bufferView": 0, "componentType": FLOAT, "count": 3, "type": "VEC3"}
    if bounds:
        position["min"] = [0.0, 0.0, 0.0]
        position["max"] = [1.0, 2.0 if wrong_max else 1.0, 0.0]
    accessors = [
        position,
        {"bufferView": 1, "componentType": UNSIGNED_SHORT, "count": 3, "type": "SCALAR"},
    ]
    if unused_accessor:
        accessors.append(dict(accessors[1]))
    gltf = {
        "asset": {"version": "2.0", "generator": "vitrine tests"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}, "indices": 1}]}],
        "accessors": accessors,
        "bufferViews": [
            {"buffer": 0, "byteOffset": 0, "byteLength": 36, "target": ARRAY_BUFFER},
            {"buffer": 0, "byteOffset": 36, "byteLength": 6, "target": ELEMENT_ARRAY_BUFFER},
        ],
        "buffers": [{"byteLength": len(binary)}],
    }
    return _glb(gltf, binary)


def codes(report: dict) -> set[str]:
    return {m["code"] for m in report["messages"]}


def test_hand_built_triangle_is_clean():
    (report,) = validate_glb(triangle_glb())
    assert report["numErrors"] == 0, report
    assert report["numWarnings"] == 0, report
    assert report["numInfos"] == 0, report
    assert report["numHints"] == 0, report
    assert_valid_glb(triangle_glb(), allow_infos=False)


def test_one_node_process_many_files_in_order():
    blobs = [triangle_glb(), b"not a glb", triangle_glb(bounds=False)]
    reports = validate_glb(blobs, names=["good.glb", "junk.glb", "nobounds.glb"])
    assert [r["path"] for r in reports] == ["good.glb", "junk.glb", "nobounds.glb"]
    assert [r["numErrors"] > 0 for r in reports] == [False, True, True]
    assert validate_glb([]) == []


def test_bad_magic_is_an_error():
    blob = b"XXXX" + triangle_glb()[4:]
    (report,) = validate_glb(blob)
    assert report["numErrors"] >= 1
    with pytest.raises(AssertionError, match="blob\\[0\\]"):
        assert_valid_glb(blob)


def test_truncated_json_chunk_is_an_error():
    blob = triangle_glb()[:40]  # header + chunk header + 20 bytes of JSON
    (report,) = validate_glb(blob)
    assert report["numErrors"] >= 1
    with pytest.raises(AssertionError) as info:
        assert_valid_glb(blob)
    for m in report["messages"]:
        if m["severity"] == 0:
            assert m["code"] in str(info.value)


def test_position_accessor_without_bounds_is_an_error():
    (report,) = validate_glb(triangle_glb(bounds=False))
    assert "MESH_PRIMITIVE_POSITION_ACCESSOR_WITHOUT_BOUNDS" in codes(report), report
    with pytest.raises(AssertionError, match="MESH_PRIMITIVE_POSITION_ACCESSOR_WITHOUT_BOUNDS"):
        assert_valid_glb(triangle_glb(bounds=False))


def test_wrong_bounds_are_an_error_with_pointer():
    (report,) = validate_glb(triangle_glb(wrong_max=True))
    assert "ACCESSOR_MAX_MISMATCH" in codes(report), report
    with pytest.raises(AssertionError, match="/accessors/0/max"):
        assert_valid_glb(triangle_glb(wrong_max=True))


def test_every_problem_of_every_file_is_listed():
    blobs = [triangle_glb(bounds=False), triangle_glb(wrong_max=True)]
    with pytest.raises(AssertionError) as info:
        assert_valid_glb(blobs)
    text = str(info.value)
    assert "blob[0]" in text and "blob[1]" in text
    assert "MESH_PRIMITIVE_POSITION_ACCESSOR_WITHOUT_BOUNDS" in text
    assert "ACCESSOR_MAX_MISMATCH" in text


def test_infos_pass_unless_disallowed():
    blob = triangle_glb(unused_accessor=True)
    (report,) = validate_glb(blob)
    assert report["numErrors"] == 0 and report["numWarnings"] == 0
    assert "UNUSED_OBJECT" in codes(report), report
    assert_valid_glb(blob)  # infos allowed by default
    with pytest.raises(AssertionError, match="UNUSED_OBJECT"):
        assert_valid_glb(blob, allow_infos=False)


def test_trimesh_box_passes():
    import trimesh  # a project dependency (pyproject.toml)

    blob = trimesh.creation.box().export(file_type="glb")
    (report,) = validate_glb(blob)
    # trimesh 4.x leaves bufferView.target unset: two BUFFER_VIEW_TARGET_MISSING hints, no more.
    assert report["numErrors"] == 0 and report["numWarnings"] == 0, report
    assert_valid_glb(blob, allow_infos=False)


def test_missing_validator_package_raises_never_skips(monkeypatch, tmp_path):
    monkeypatch.setattr(gltf_validator, "VALIDATOR_PACKAGE", tmp_path / "missing" / "package.json")
    with pytest.raises(RuntimeError, match="make test"):
        validate_glb(triangle_glb())


def test_missing_node_raises_never_skips(monkeypatch):
    monkeypatch.setattr(gltf_validator.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="make test"):
        assert_valid_glb(triangle_glb())
