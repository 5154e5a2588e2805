"""Issue 13's fast paths of the instruct stage against the paths they replace (``embodied.bench.instruct``'s switches).

- one CNN trunk pass per forward for the LLM tokens and the pointer head's dense map (``shared_encoder_pass``);
- the pointer's 1×1 key projection folded into its queries (``fold_key_projection``);
- the fixed-window grid pool with a contiguous gradient (``fixed_window_pool``);
- the CNN's 1×1 projection as a batched matmul (``matmul_projection``);
- one processor across batches (``reuse_processor``).

Tolerances: losses of ``STEPS`` steps and the first step's gradients agree to float32 summation order (rtol 1e-5,
atol 1e-7: the trunk's two backward passes become one with summed upstream gradients, ``(qW)·f`` rounds differently
from ``q·(Wf)``, a matmul from oneDNN's 1×1 conv); the fixed-window pool's tokens, ``predict``'s choices and the
processed batches are bit-identical. Logits are compared to tolerance, never bit for bit: the matmul and the conv
round differently on different CPUs (CI found a last-bit difference in the text logits).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from embodied.bench.instruct import use_new_path
from embodied.models.config import MMLLMConfig
from embodied.models.context import BuildContext
from embodied.models.encoders.cnn import CNNEncoder, CNNSettings
from embodied.models.heads.pointer import PointerHead, PointerSettings
from embodied.models.mmllm import MMLLM
from tests.factory import HEAD_SPECS, batch_for, observation, tiny_spec

STEPS = 5
RTOL, ATOL = 1e-5, 1e-7


def pointer_model(new_path: bool) -> MMLLM:
    torch.manual_seed(0)
    heads = {"text": HEAD_SPECS["text"], "pointer": HEAD_SPECS["pointer"]}
    model = MMLLM(MMLLMConfig(spec=tiny_spec(heads=heads)))
    use_new_path(model, new_path)
    return model


def trunk_calls(model: MMLLM) -> list[int]:
    calls: list[int] = []
    trunk = model.stream_map["image"].encoder.trunk
    assert isinstance(trunk, nn.Module)
    trunk.register_forward_hook(lambda *_: calls.append(1))
    return calls


def train(model: MMLLM, batch: dict[str, Any]) -> tuple[list[float], dict[str, torch.Tensor]]:
    """Per-step losses of ``STEPS`` AdamW steps and the gradients of the first step."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    losses, first_grads = [], {}
    for step in range(STEPS):
        loss = model(**batch).loss
        assert loss is not None
        loss.backward()
        if step == 0:
            first_grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
    return losses, first_grads


def test_one_trunk_pass_per_step_with_the_same_losses_and_gradients() -> None:
    batch = batch_for(pointer_model(True), n=4)
    new, old = pointer_model(True), pointer_model(False)
    new_calls, old_calls = trunk_calls(new), trunk_calls(old)
    new_losses, new_grads = train(new, batch)
    old_losses, old_grads = train(old, batch)
    cameras = len(new.config.model_spec.cameras)
    assert len(new_calls) == STEPS * cameras and len(old_calls) == 2 * STEPS * cameras
    torch.testing.assert_close(torch.tensor(new_losses), torch.tensor(old_losses), rtol=RTOL, atol=ATOL)
    assert new_grads.keys() == old_grads.keys()
    trunk = [n for n in new_grads if n.startswith("streams.image.encoder.trunk")]
    assert trunk and all(bool(new_grads[n].abs().sum() > 0) for n in trunk)
    for name, grad in new_grads.items():
        torch.testing.assert_close(grad, old_grads[name], rtol=RTOL, atol=ATOL, msg=name)


def test_predict_is_unchanged_and_encodes_once() -> None:
    model = pointer_model(True)
    batch = batch_for(model, n=3, seed=7)
    model.eval()
    calls = trunk_calls(model)
    new = model.predict(batch, "pointer")
    cameras = len(model.config.model_spec.cameras)
    assert len(calls) == cameras
    use_new_path(model, False)
    old = model.predict(batch, "pointer")
    assert len(calls) == cameras + 2 * cameras
    assert torch.equal(new.index, old.index) and torch.equal(new.pixels, old.pixels)
    assert torch.equal(new.camera, old.camera)


def test_distill_outputs_agree() -> None:
    """The LwF hook's path (``distill_outputs`` → ``_head_states``) gives the same distributions either way."""
    model = pointer_model(True)
    batch = batch_for(model, n=2, seed=3)
    with torch.no_grad():
        new = model.distill_outputs(batch)
        use_new_path(model, False)
        old = model.distill_outputs(batch)
    assert new.keys() == old.keys() == {"text", "pointer"}
    torch.testing.assert_close(new["text"].params, old["text"].params, rtol=RTOL, atol=1e-6)
    torch.testing.assert_close(new["pointer"].params, old["pointer"].params, rtol=RTOL, atol=1e-6)


def test_folded_key_projection_scores_upsampled_and_native_maps_alike() -> None:
    """Folding commutes with the bilinear upsampling: 8-channel maps at 16×16 and 32×32 over a 32×32 image."""
    torch.manual_seed(0)
    ctx = BuildContext(embed_dim=32, image_size=32, extras={"dense_dims": {"image": 8}})
    head = PointerHead(PointerSettings(hidden_dim=32, key_dim=16, rotation_bins=2), ctx)
    g = torch.Generator().manual_seed(1)
    maps = {
        "image/front": torch.randn(3, 8, 16, 16, generator=g),
        "image/wrist": torch.randn(3, 8, 32, 32, generator=g),
    }
    hidden = torch.randn(3, 2, 32, generator=g)
    new_locations = head.locations(maps)
    new = head.logits(hidden, new_locations)
    head.fold_key_projection = False
    old_locations = head.locations(maps)
    old = head.logits(hidden, old_locations)
    assert all(p is None for p in old_locations.projections) and all(p is not None for p in new_locations.projections)
    torch.testing.assert_close(new, old, rtol=RTOL, atol=1e-6)
    torch.testing.assert_close(new_locations.keys, old_locations.keys, rtol=RTOL, atol=1e-6)
    assert torch.equal(new.argmax(-1), old.argmax(-1))


def test_fixed_window_pool_gives_the_same_tokens_and_gradients() -> None:
    for pool in ("avg", "max"):
        torch.manual_seed(0)
        encoder = CNNEncoder(CNNSettings(pool=pool, stride=1, grid=4), BuildContext(embed_dim=0, image_size=32))
        images = torch.randn(2, 3, 32, 32)
        grads = []
        for fixed in (True, False):
            encoder.fixed_window_pool = fixed
            encoder.zero_grad(set_to_none=True)
            tokens = encoder(images)
            (tokens * torch.arange(tokens.numel()).reshape(tokens.shape)).sum().backward()
            grads.append((tokens.detach(), encoder.proj.weight.grad.clone()))  # type: ignore[union-attr]
        assert torch.equal(grads[0][0], grads[1][0]), pool
        torch.testing.assert_close(grads[0][1], grads[1][1], rtol=RTOL, atol=ATOL)


def test_one_processor_across_batches_gives_the_same_batches() -> None:
    model = pointer_model(True)
    assert model.processor is model.processor
    obs = [observation(i) for i in range(3)]
    prompts = ["put the red cube in bowl 1", "what colour is it?", "put the red cube in bowl 1"]
    targets: list[str | list[int]] = [[5, 6], "red", "red"]
    first = model.processor(obs, prompts, targets)
    again = model.processor(obs, prompts, targets)  # every prompt and text target now from the caches
    model.reuse_processor = False
    assert model.processor is not model.processor
    fresh = model.processor(obs, prompts, targets)
    for batch in (again, fresh):
        assert batch.keys() == first.keys()
        for key in ("input_ids", "attention_mask", "labels"):
            assert torch.equal(batch[key], first[key]), key
        assert torch.equal(batch["images"]["front"], first["images"]["front"])
    model.reuse_processor = True
    before = model.processor
    model.add_task_adapter("second", {"r": 2})
    assert model.processor is not before  # a new spec: a new processor
