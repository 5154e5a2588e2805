"""``pointer`` head: output shapes over several cameras, ``log_prob`` against an independent computation, target
cells, a falling loss, the error without dense maps, and equal predictions after save/load through ``MMLLM``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from embodied.models import MMLLM, MMLLMConfig
from embodied.models.context import BuildContext
from embodied.models.heads.pointer import PointerHead, PointerSettings, cell_centres
from tests.factory import ENCODER_SPECS, HEAD_SPECS, batch_for, tiny_spec

D, MAP_DIM, B = 32, 8, 3


def make_head(seed: int = 0, **settings: Any) -> PointerHead:
    torch.manual_seed(seed)
    ctx = BuildContext(embed_dim=D, image_size=32, extras={"dense_dims": {"image": MAP_DIM}})
    return PointerHead(PointerSettings(hidden_dim=32, key_dim=16, **settings), ctx)


def maps(seed: int = 1) -> dict[str, torch.Tensor]:
    """Two cameras with different map sizes: 16×16 (stride 2) and 8×8 (stride 4)."""
    g = torch.Generator().manual_seed(seed)
    return {
        "image/front": torch.randn(B, MAP_DIM, 16, 16, generator=g),
        "image/wrist": torch.randn(B, MAP_DIM, 8, 8, generator=g),
    }


def hidden(seed: int = 2) -> torch.Tensor:
    return torch.randn(B, 2, D, generator=torch.Generator().manual_seed(seed))


def test_predict_scores_every_camera_at_image_resolution() -> None:
    head = make_head()
    out = head.predict(hidden(), dense_features=maps())
    assert out.cameras == ("image/front", "image/wrist")
    assert out.pixels.shape == (B, 2, 2) and out.camera.shape == (B, 2) and out.index.shape == (B, 2)
    assert bool((out.pixels >= 0).all()) and bool((out.pixels <= 31).all())
    assert bool((out.pixels == out.pixels.round()).all())  # upsampled: cell centres are pixel centres
    assert head.locations(maps()).keys.shape == (B, 16, 2 * 32 * 32)
    coarse = make_head(upsample=False)
    assert coarse.locations(maps()).keys.shape == (B, 16, 16 * 16 + 8 * 8)
    # an 8×8 map over a 32×32 image: cell (0, 0) covers pixels 0..3, centre 1.5
    assert cell_centres(8, 8, (32, 32), torch.zeros(1))[0].tolist() == [1.5, 1.5]


def test_log_prob_is_the_probability_of_the_sampled_location() -> None:
    head = make_head(rotation_bins=4)
    feats, h = maps(), hidden()
    out = head.predict(h, dense_features=feats, sample=True, generator=torch.Generator().manual_seed(0))
    log_prob = head.log_prob(out.index, h, dense_features=feats)
    # independently: per camera, a 1×1 conv of the upsampled keys with each query (rotation) as the kernel
    with torch.no_grad():
        query = head.query_mlp(h).reshape(B, 2, 4, 16)  # [B, K, R, d_k]
        scores = []
        for f in feats.values():
            keys = F.interpolate(head.key_proj["image"](f), size=(32, 32), mode="bilinear", align_corners=False)
            per = [F.conv2d(keys[i : i + 1], query[i].reshape(8, 16, 1, 1)) for i in range(B)]  # [1, K·R, H, W]
            scores.append(torch.cat(per).reshape(B, 2, 4, 32 * 32).transpose(2, 3))  # [B, K, L_c, R]
        logits = torch.cat(scores, dim=2).reshape(B, 2, -1) / math.sqrt(16)
        expected = torch.log_softmax(logits, -1).gather(-1, out.index[..., None])[..., 0].sum(1)
    torch.testing.assert_close(log_prob.detach(), expected, rtol=1e-4, atol=1e-4)
    location, rotation = out.index // 4, out.index % 4
    assert torch.equal(out.rotation, rotation)
    assert bool((out.yaw.abs() < math.pi / 2).all())
    assert torch.equal(out.camera, (location >= 32 * 32).long())


def test_targets_pick_the_nearest_cell_of_the_target_camera_or_a_gaussian() -> None:
    head = make_head(upsample=False)
    locations = head.locations(maps())
    batch = {"point_targets": torch.tensor([[[5.2, 9.9], [30.0, 0.4]]] * B), "point_camera": torch.tensor([0, 1, 1])}
    target = head.target_distribution(batch, locations)
    chosen = target.argmax(-1)  # [B, K]
    assert chosen[0].tolist() == [5 * 16 + 2, 0 * 16 + 15]  # front: 16×16 map, cell = round(pixel) // 2
    assert chosen[1].tolist() == [256 + 2 * 8 + 1, 256 + 0 * 8 + 7]  # wrist: 8×8 map after the 256 front cells
    smooth = make_head(upsample=False, target_sigma=1.5).target_distribution(batch, locations)
    torch.testing.assert_close(smooth.sum(-1), torch.ones(B, 2))
    assert torch.equal(smooth.argmax(-1), chosen)
    assert float(smooth[1, :, :256].sum()) == 0.0  # nothing on the other camera


def coordinate_maps(seed: int = 1) -> dict[str, torch.Tensor]:
    """``maps()`` whose first channels are x, y and x² + y² (as CoordConv gives): a linear score can then peak
    at any location (a paraboloid), which random features alone cannot guarantee."""
    out = maps(seed)
    for f in out.values():
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, f.shape[2]), torch.linspace(-1, 1, f.shape[3]), indexing="ij")
        f[:, :3] = torch.stack([xs, ys, xs**2 + ys**2])
    return out


def test_loss_falls_and_accuracy_rises_on_a_fixed_batch() -> None:
    head = make_head()
    h = hidden().requires_grad_(True)
    batch = {"dense_features": coordinate_maps(), "point_targets": torch.tensor([[[3.0, 7.0], [20.0, 25.0]]] * B)}
    optimizer = torch.optim.Adam([*head.parameters(), h], lr=3e-2)
    losses = []
    for _ in range(200):
        loss, metrics = head.loss(h, batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(metrics["loss"])
    assert losses[-1] < 0.5 * losses[0]
    _, metrics = head.loss(h, batch)
    assert metrics["pick_acc"] == 1.0 and metrics["place_acc"] == 1.0
    out = head.predict(h, dense_features=batch["dense_features"])
    assert bool(((out.pixels - batch["point_targets"]).norm(dim=-1) <= 2.0).all())


def test_a_model_without_dense_maps_raises_a_clear_error() -> None:
    spec = tiny_spec(encoders={"state": ENCODER_SPECS["proprio"]}, heads={"pointer": HEAD_SPECS["pointer"]})
    model = MMLLM(MMLLMConfig(spec=spec))
    batch = batch_for(model)
    with pytest.raises(ValueError, match="no dense features"):
        model(**batch)
    with pytest.raises(ValueError, match="no dense features"):
        model.predict(batch, "pointer")


def test_save_and_load_give_equal_predictions(tmp_path: Path) -> None:
    torch.manual_seed(0)
    spec = tiny_spec(heads={"pointer": {**HEAD_SPECS["pointer"], "rotation_bins": 2}})
    model = MMLLM(MMLLMConfig(spec=spec)).eval()
    batch = {**batch_for(model), "point_rotation": torch.tensor([[0, 1], [1, 0]])}
    out = model(**batch)
    assert out.loss is not None and set(out.metrics) >= {"pointer/loss", "pointer/pick_acc", "pointer/place_acc"}
    before = model.predict(batch, "pointer")
    model.save_pretrained(tmp_path)
    again = MMLLM.from_pretrained(tmp_path).eval()
    after = again.predict(batch, "pointer")
    assert before.cameras == after.cameras == ("image/front", "image/wrist")
    assert torch.equal(before.index, after.index) and torch.equal(before.pixels, after.pixels)
    hidden_states = model.query_hidden(batch, "pointer")
    dense = model.dense_features(batch)
    torch.testing.assert_close(
        model.head_map["pointer"].log_prob(before.index, hidden_states, dense_features=dense),
        again.head_map["pointer"].log_prob(after.index, again.query_hidden(batch, "pointer"), dense_features=dense),
    )


def test_plan_step_text_and_its_pointing_action_train_in_one_sequence() -> None:
    """A plan step (text head) and its pick/place pixels (pointer queries after it) in one forward pass."""
    torch.manual_seed(0)
    spec = tiny_spec(heads={"text": HEAD_SPECS["text"], "pointer": HEAD_SPECS["pointer"]})
    model = MMLLM(MMLLMConfig(spec=spec))
    batch = batch_for(model, n=2)
    steps = ["pick(red cube)", "place(blue bowl)"]
    prompts = ["sort the objects: step 1", "sort the objects: step 2"]
    batch = {**batch, **model.processor.encode_text(prompts, steps)}
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    first = model(**batch).metrics
    assert {"text/loss", "pointer/loss"} <= set(first)
    for _ in range(100):
        loss = model(**batch).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    last = model(**batch).metrics
    assert last["text/loss"] < 0.5 * first["text/loss"] and last["pointer/loss"] < 0.5 * first["pointer/loss"]
    model.eval()
    prompts_only = {**batch, **model.processor.encode_text(prompts)}
    assert model.predict(prompts_only, "text", max_new_tokens=16) == steps
