"""Grounded answering ("look, then answer"): the focal loss against a hand computation, the soft count and its
peaks, the look slot in prompts, a look that learns to find referents, decoding end to end, save/load, errors."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from embodied.config.model import GroundingSettings, ModelSpec
from embodied.models import MMLLM, MMLLMConfig
from embodied.models.grounding import LOOK_TOKEN, Grounding, Look
from embodied.models.heads.pointer import cell_centres
from tests.factory import HEAD_SPECS, tiny_spec


def grounded_spec(**grounding: object) -> dict[str, object]:
    spec = tiny_spec(heads={"text": HEAD_SPECS["text"]})
    spec["encoders"] = {"image": {"kind": "cnn", "stride": 1, "channels": [16, 16]}}
    spec["grounding"] = {"hidden_dim": 32, "key_dim": 16, **grounding}
    return spec


def look_of(logits: list[float], shape: tuple[int, int], image: int) -> Look:
    pixels = cell_centres(*shape, (image, image), torch.zeros(1))
    return Look(torch.tensor([logits]), pixels, shape)


def test_focal_loss_equals_the_hand_computed_centernet_loss() -> None:
    """A 2×2 map over a 2×2 image, one referent at pixel (0, 0): CenterNet's eq. 1 written out by hand."""
    module = Grounding(GroundingSettings(target_sigma=1.0), embed_dim=8, map_dim=4, image_size=2)
    logits = [0.0, -1.0, 1.0, -2.0]
    look = look_of(logits, (2, 2), 2)
    batch = {
        "look_targets": torch.tensor([[[0.0, 0.0]]]),
        "look_count": torch.tensor([1]),
        "look_mask": torch.tensor([1.0]),
    }
    loss, metrics = module.loss(look, batch)
    sig = [1 / (1 + math.exp(-x)) for x in logits]
    # cells (u, v): (0,0) target 1; (1,0) and (0,1) at distance 1: y = e^(-1/2); (1,1) at distance √2: y = e^(-1)
    heat = [1.0, math.exp(-0.5), math.exp(-0.5), math.exp(-1.0)]
    expected = -((1 - sig[0]) ** 2) * math.log(sig[0])
    for p, y in zip(sig[1:], heat[1:], strict=True):
        expected += -((1 - y) ** 4) * p**2 * math.log(1 - p)
    assert float(loss) == pytest.approx(expected, rel=1e-5)
    assert metrics["loss"] == pytest.approx(expected, rel=1e-5)


def test_no_referent_is_an_all_negative_map_and_the_mask_drops_rows() -> None:
    module = Grounding(GroundingSettings(), embed_dim=8, map_dim=4, image_size=2)
    logits = [0.5, -1.0, 2.0, -3.0]
    look = Look(torch.tensor([logits, logits]), cell_centres(2, 2, (2, 2), torch.zeros(1)), (2, 2))
    batch = {
        "look_targets": torch.zeros(2, 1, 2),
        "look_count": torch.tensor([0, 1]),
        "look_mask": torch.tensor([1.0, 0.0]),  # row 1 has a target but no supervision
    }
    loss, _ = module.loss(look, batch)
    sig = [1 / (1 + math.exp(-x)) for x in logits]
    expected = sum(-(p**2) * math.log(1 - p) for p in sig)  # y = 0 everywhere, normalised by max(0, 1)
    assert float(loss) == pytest.approx(expected, rel=1e-5)


def test_the_patch_read_crops_the_map_around_the_strongest_cells() -> None:
    module = Grounding(GroundingSettings(patch=3, top_cells=2), embed_dim=8, map_dim=2, image_size=5)
    dense = torch.arange(2 * 5 * 5, dtype=torch.float32).reshape(1, 2, 5, 5)
    logits = torch.full((1, 25), -50.0)
    logits[0, 1 * 5 + 3] = 50.0  # row 1, column 3: the only strong cell
    patch = module._patch(logits, dense).reshape(2, 3, 3)
    torch.testing.assert_close(patch, dense[0, :, 0:3, 2:5])
    logits = torch.full((1, 25), -50.0)
    logits[0, 0] = 50.0  # a corner: the patch's cells outside the map are zero
    corner = module._patch(logits, dense).reshape(2, 3, 3)
    torch.testing.assert_close(corner[:, 1:, 1:], dense[0, :, 0:2, 0:2])
    assert float(corner[:, 0].abs().sum() + corner[:, :, 0].abs().sum()) < 1e-30  # (the 2nd cell: e^-100)
    logits = torch.full((1, 25), -50.0)
    logits[0, 6], logits[0, 18] = 0.0, math.log(3.0)  # two cells, weights 1/4 and 3/4
    mixed = module._patch(logits, dense).reshape(2, 3, 3)
    torch.testing.assert_close(mixed, 0.25 * dense[0, :, 0:3, 0:3] + 0.75 * dense[0, :, 2:5, 2:5])


def test_the_folded_scores_equal_the_keys_first() -> None:
    torch.manual_seed(0)
    module = Grounding(GroundingSettings(key_dim=8, hidden_dim=16), embed_dim=12, map_dim=4, image_size=6)
    hidden, dense = torch.randn(3, 12), torch.randn(3, 4, 6, 6)
    keys = module.key_proj(dense).flatten(2)  # [B, d_k, L]
    expected = torch.einsum("bd,bdl->bl", module.query_mlp(hidden), keys) / math.sqrt(8) + module.bias
    torch.testing.assert_close(module.look(hidden, dense).logits, expected, rtol=1e-5, atol=1e-5)


def test_soft_count_sums_the_local_maxima() -> None:
    logits = torch.full((1, 6, 6), -9.0)
    logits[0, 1, 1], logits[0, 1, 2] = 3.0, 1.0  # one peak with a weaker neighbour: one referent
    logits[0, 4, 4] = 2.0  # a second peak
    look = Look(logits.flatten(1), cell_centres(6, 6, (6, 6), logits), (6, 6))
    # the two peaks, and the 15 flat background cells out of reach of both (36 - 12 - 9): local maxima too
    expected = 1 / (1 + math.exp(-3.0)) + 1 / (1 + math.exp(-2.0)) + 15 / (1 + math.exp(9.0))
    assert float(look.count()[0]) == pytest.approx(expected, rel=1e-5)
    points = look.points(0.5)[0]
    assert points.tolist() == [[1.0, 1.0], [4.0, 4.0]]  # (u, v) of the two peaks


def test_prompts_end_with_the_look_slot_and_two_slots_are_an_error() -> None:
    model = MMLLM(MMLLMConfig(spec=grounded_spec()))
    text = model.processor.prompt_text("what colour is the cube?", look=True)
    assert text.count(LOOK_TOKEN) == 1 and text.index(LOOK_TOKEN) > text.index("cube?")
    obs = [{"images": {c: np.zeros((32, 32, 3), np.uint8) for c in ("front", "wrist")}, "state": np.zeros(9)}]
    batch = model.processor(obs, ["what colour is the cube?"], kinds="vqa")
    assert int((batch["input_ids"] == model.look_id).sum()) == 1
    batch["input_ids"][0, -8] = model.look_id
    with pytest.raises(ValueError, match="at most one <\\|look\\|> per prompt"):
        model.embed(batch)


def test_only_the_grounding_kinds_look_and_the_loss_reads_their_rows() -> None:
    torch.manual_seed(0)
    model = MMLLM(MMLLMConfig(spec=grounded_spec()))  # kinds: vqa, plan (the default)
    assert not model.processor.looks("action") and model.processor.looks("vqa") and model.processor.looks(None)
    obs, prompts, pixels = synthetic_scenes(4, seed=3)
    batch = model.processor(obs, prompts, ["yes"] * 4, kinds=["vqa", "action", "plan", "action"])
    assert (batch["input_ids"] == model.look_id).sum(dim=1).tolist() == [1, 0, 1, 0]
    look = model.look(batch)
    assert look.rows is not None and look.rows.tolist() == [0, 2] and look.logits.shape[0] == 2
    targets = torch.as_tensor(np.maximum(pixels, 0))[:, None]
    batch |= {"look_targets": targets, "look_count": torch.ones(4, dtype=torch.long), "look_mask": torch.ones(4)}
    full = model(**batch).metrics["look/loss"]
    batch["look_mask"] = torch.tensor([1.0, 0.0, 1.0, 0.0])  # the rows that did not look never counted
    assert model(**batch).metrics["look/loss"] == pytest.approx(full)
    plain = model.processor(obs, prompts, kinds="action")
    with pytest.raises(ValueError, match="no prompt of this batch"):
        model.look(plain)
    assert len(model.predict(plain, "text")) == 4  # one backbone pass, no look


def test_bad_grounding_settings_name_the_key() -> None:
    with pytest.raises(ValidationError, match="patch must be odd"):
        ModelSpec.model_validate(grounded_spec(patch=4))
    with pytest.raises(ValueError, match=r"grounding\.map is 'image/top'"):
        MMLLM(MMLLMConfig(spec=grounded_spec(map="image/top")))


def synthetic_scenes(n: int, seed: int) -> tuple[list[dict[str, object]], list[str], np.ndarray]:
    """Dark images with one bright 2×2 red or blue square; the prompt asks for one colour; the referent is that
    square when its colour was asked, else nothing."""
    rng = np.random.default_rng(seed)
    obs, prompts, pixels = [], [], np.full((n, 2), -1.0, np.float32)
    for i in range(n):
        image = np.zeros((32, 32, 3), np.uint8)
        u, v = rng.integers(2, 30, size=2)
        colour = int(rng.integers(2))
        image[v : v + 2, u : u + 2, 0 if colour == 0 else 2] = 255
        asked = int(rng.integers(2))
        prompts.append(f"is there a {'red' if asked == 0 else 'blue'} square?")
        if asked == colour:
            pixels[i] = (u + 0.5, v + 0.5)
        obs.append({"images": {"front": image, "wrist": image}, "state": np.zeros(9, np.float32)})
    return obs, prompts, pixels


def test_the_look_learns_to_find_the_referent_and_answers_decode() -> None:
    torch.manual_seed(0)
    model = MMLLM(MMLLMConfig(spec=grounded_spec())).train()
    obs, prompts, pixels = synthetic_scenes(32, seed=0)
    answers = ["yes" if p[0] >= 0 else "no" for p in pixels]
    batch = model.processor(obs, prompts, answers)
    present = torch.as_tensor(pixels[:, 0] >= 0)
    batch |= {
        "look_targets": torch.as_tensor(pixels)[:, None],
        "look_count": present.long(),
        "look_mask": torch.ones(32),
    }
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for _ in range(60):
        out = model(**batch)
        first = first if first is not None else out.metrics["look/loss"]
        optimizer.zero_grad()
        out.loss.backward()
        optimizer.step()
    assert out.metrics["look/loss"] < 0.3 * first
    model.eval()
    look = model.look(batch)
    assert look.heatmap.shape == (32, 32, 32)
    found = [look.points(0.3)[i] for i in range(32)]
    hits = [
        bool(present[i]) and len(f) >= 1 and float((f - torch.as_tensor(pixels[i])).norm(dim=1).min()) <= 1.5
        for i, f in enumerate(found)
    ]
    assert sum(hits) >= 0.75 * int(present.sum())  # the look lands on the asked-for square
    texts = model.predict(batch, "text")
    assert len(texts) == 32 and all(isinstance(t, str) for t in texts)


def test_a_grounding_model_reloads_with_equal_looks_and_answers(tmp_path: Path) -> None:
    torch.manual_seed(1)
    model = MMLLM(MMLLMConfig(spec=grounded_spec())).eval()
    obs, prompts, _ = synthetic_scenes(4, seed=1)
    batch = model.processor(obs, prompts)
    model.save_pretrained(tmp_path / "m")
    loaded = MMLLM.from_pretrained(tmp_path / "m").eval()
    torch.testing.assert_close(loaded.look(batch).logits, model.look(batch).logits)
    assert loaded.predict(batch, "text") == model.predict(batch, "text")
