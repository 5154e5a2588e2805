"""Constrained plan decoding: the grammar's prefixes, and an untrained model sampling 100 plans under it that all
parse (the grammar fixes the form, never which objects the plan names)."""

from __future__ import annotations

import numpy as np
import torch

from embodied.agents.plan_grammar import PlanGrammar, tabletop_items
from embodied.envs.tabletop.plans import format_plan, parse_plan
from embodied.models import MMLLM, MMLLMConfig
from embodied.models.text_constraint import GrammarConstraint
from tests.factory import tiny_spec


def test_grammar_prefixes_and_sentences() -> None:
    grammar = PlanGrammar(tabletop_items(), max_steps=3)
    plan = format_plan(parse_plan("pick(red cube); place(blue bowl)"))
    assert grammar.complete(plan)
    assert all(grammar.valid_prefix(plan[:i]) for i in range(len(plan) + 1))
    assert not grammar.complete(plan + "\n") and grammar.valid_prefix(plan + "\n")
    for bad in ("1. pick(red cub)", "2. pick(red cube)", "1. grab(", "1. pick(red cube, blue bowl)", "1.pick"):
        assert not grammar.valid_prefix(bad), bad
    assert grammar.valid_prefix("1. push(red cube, green zo")  # push takes two items
    four = "\n".join(f"{i + 1}. touch(red cube)" for i in range(4))
    assert not grammar.valid_prefix(four)  # more than max_steps lines


def test_sampled_plans_are_always_in_the_grammar() -> None:
    torch.manual_seed(0)
    spec = tiny_spec(heads={"text": {"kind": "text", "max_new_tokens": 96}})
    model = MMLLM(MMLLMConfig(spec=spec)).eval()
    grammar = PlanGrammar(tabletop_items(), max_steps=2)
    constraint = GrammarConstraint(grammar, model.tokenizer)
    rng = np.random.default_rng(0)
    obs = [
        {"images": {c: rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for c in ("front", "wrist")},
         "state": np.zeros(9, np.float32)}
        for _ in range(20)
    ]  # fmt: skip
    batch = model.processor(obs, ["plan the steps to put the red cube in the blue bowl."] * 20)
    generator = torch.Generator().manual_seed(0)
    plans: list[str] = []
    for _ in range(5):
        plans += model.predict(
            batch, "text", do_sample=True, temperature=1.5, generator=generator, constraint=constraint
        )
    assert len(plans) == 100
    assert all(grammar.complete(p) for p in plans), [p for p in plans if not grammar.complete(p)][:3]
    assert all(1 <= len(parse_plan(p)) <= 2 for p in plans)
    assert len(set(plans)) > 10  # the model still chooses: the grammar fixes only the form
