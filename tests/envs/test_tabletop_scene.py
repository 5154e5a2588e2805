"""Tabletop scene: camera geometry agrees with what pybullet renders, layouts, rendering outputs, quiet C output."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from embodied.envs.tabletop.camera import Camera
from embodied.envs.tabletop.layout import WORKSPACE, sample_specs
from embodied.envs.tabletop.objects import ObjectSpec
from embodied.envs.tabletop.scene import TabletopScene

SIZE = (48, 64)  # (H, W): non-square on purpose, so width/height mix-ups show


@pytest.fixture(scope="module")
def scene() -> TabletopScene:
    s = TabletopScene()
    s.reset(np.random.default_rng(3), sample_specs(np.random.default_rng(3), n_objects=5, n_receptacles=2))
    yield s
    s.close()


def test_layout_has_unique_names_and_items_stand_in_the_workspace(scene: TabletopScene) -> None:
    names = [o.name for o in scene.objects]
    assert len(names) == len(set(names)) == 7
    (x0, x1), (y0, y1) = WORKSPACE
    for obj in scene.objects:
        p = scene.position(obj)
        assert x0 <= p[0] <= x1 and y0 <= p[1] <= y1, obj.name
        lo, hi = scene.aabb(obj)
        assert lo[2] == pytest.approx(scene.table_height, abs=0.004), obj.name  # resting on the table
        assert np.all(hi > lo)
    assert {o.kind for o in scene.objects} == {"object", "receptacle"}


@pytest.mark.parametrize("camera", ["front", "wrist"])
def test_world_to_pixel_lands_on_the_rendered_object(scene: TabletopScene, camera: str) -> None:
    h, w = SIZE
    frame = scene.render(camera, SIZE, depth=True, segmentation=True)
    assert frame["rgb"].shape == (h, w, 3) and frame["rgb"].dtype == np.uint8
    assert frame["depth"].shape == (h, w) and frame["depth"].dtype == np.float32
    assert frame["segmentation"].shape == (h, w) and frame["segmentation"].dtype == np.int32
    cam, hits = scene.cameras[camera], 0
    for obj in scene.movable:
        uv, depth = cam.world_to_pixel(scene.position(obj), w, h)
        u, v = np.round(uv).astype(int)
        if not (0 <= u < w and 0 <= v < h and depth > 0):
            continue
        if frame["segmentation"][v, u] == obj.body_id:
            hits += 1
            # The visible surface is in front of the centre, by less than the object's size.
            assert 0.0 <= depth - frame["depth"][v, u] <= obj.size, obj.name
    assert hits >= (3 if camera == "front" else 1)


def test_pixel_to_world_inverts_world_to_pixel_and_depth_lands_on_surfaces(scene: TabletopScene) -> None:
    h, w = SIZE
    cam = scene.cameras["front"]
    point = np.array([0.5, 0.1, scene.table_height + 0.03])
    uv, depth = cam.world_to_pixel(point, w, h)
    np.testing.assert_allclose(cam.pixel_to_world(uv[0], uv[1], depth, w, h), point, atol=1e-9)
    frame = scene.render("front", SIZE, depth=True, segmentation=True)
    table = np.argwhere(frame["segmentation"] == scene.table)
    for v, u in table[:: max(1, len(table) // 50)]:
        p = cam.pixel_to_world(float(u), float(v), float(frame["depth"][v, u]), w, h)
        assert p[2] == pytest.approx(scene.table_height, abs=0.01)  # back-projected table pixels lie on it


def test_intrinsics_and_extrinsics_follow_the_documented_convention() -> None:
    cam = Camera("c", np.array([1.0, 0.0, 1.0]), np.array([0.0, 0.0, 0.0]), np.array([0.0, 0.0, 1.0]), fov=60.0)
    k = cam.intrinsics(64, 48)
    f = 48 / (2 * np.tan(np.deg2rad(30.0)))
    np.testing.assert_allclose(k, [[f, 0, 31.5], [0, f, 23.5], [0, 0, 1]])
    t = cam.extrinsics()
    np.testing.assert_allclose(t[:3, :3] @ t[:3, :3].T, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(t @ np.array([1.0, 0.0, 1.0, 1.0]), [0, 0, 0, 1], atol=1e-12)  # eye → origin
    target_cam = t @ np.array([0.0, 0.0, 0.0, 1.0])
    np.testing.assert_allclose(target_cam[:3], [0, 0, np.sqrt(2)], atol=1e-12)  # target on the +z axis
    above = t @ np.array([1.0, 0.0, 2.0, 1.0])
    assert above[1] < 0  # world up is image up, i.e. camera -y


def test_reset_is_a_function_of_the_generator_and_randomisation_varies_views() -> None:
    a, b = TabletopScene(randomize_camera=True, randomize_lighting=True), TabletopScene()
    try:
        specs = [ObjectSpec("red", "cube"), ObjectSpec("blue", "bowl")]
        a.reset(np.random.default_rng(0), specs)
        first = a.render("front", 32)["rgb"]
        ext0 = a.cameras["front"].extrinsics()
        a.reset(np.random.default_rng(0), specs)
        assert np.array_equal(first, a.render("front", 32)["rgb"])
        a.reset(np.random.default_rng(1), specs)
        assert not np.allclose(ext0, a.cameras["front"].extrinsics())
        assert not np.array_equal(first, a.render("front", 32)["rgb"])
        b.reset(np.random.default_rng(0), specs)
        b_ext = b.cameras["front"].extrinsics()
        b.reset(np.random.default_rng(1), specs)
        np.testing.assert_array_equal(b_ext, b.cameras["front"].extrinsics())  # fixed camera without randomising
    finally:
        a.close()
        b.close()


def test_duplicate_names_are_rejected() -> None:
    s = TabletopScene()
    try:
        with pytest.raises(ValueError, match="unique"):
            s.reset(np.random.default_rng(0), [ObjectSpec("red", "cube"), ObjectSpec("red", "cube")])
    finally:
        s.close()


def test_pybullet_c_output_is_silenced() -> None:
    code = (
        "import numpy as np\n"
        "from embodied.envs.tabletop.scene import TabletopScene\n"
        "s = TabletopScene(); s.reset(np.random.default_rng(0)); s.render('front', 16); s.close()\n"
        "print('done')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout == "done\n"
    assert "build time" not in out.stderr
