"""``PlannerAgent``: the MM-LLM states a plan in text; privileged skills execute it step by step, re-planning on
failure (SayCan-style: Ahn et al. 2022; "Inner Monologue", Huang et al. 2022, for re-planning on feedback).

Per sub-env: the text head generates a plan for ``plan_prompt(instruction)`` from the current observation (one
batched generation for every env that needs a plan), ``parse_plan`` reads it, and each skill of it
(``embodied.agents.skills``: pick+place, touch, push) runs as one ``primitive`` action. After a skill the plan's
progress on the env (``env.check_plan(plan).progress``: how many of its steps the physical state reflects) must
have reached the skill's last step; if it has not — a slipped grasp, a hallucinated object, an inapplicable
step — or the plan is used up without ending the episode, the agent re-plans from the new observation and
resumes after the steps the state already satisfies. A sub-env that (auto)reset — ``episode_done(i)``, or its
``info`` carrying the reset keys — plans afresh. ``plans[i]`` / ``plan_checks[i]`` keep the last plan text
and its ``PlanCheck`` (validity judged at generation). ``grammar=True`` decodes plans constrained to the plan
grammar (``embodied.agents.plan_grammar``): numbered ``verb(<colour> <shape>)`` lines over the env vocabulary.

The skills read the live simulator, so the agent needs a ``SyncVectorEnv`` of tabletop envs in ``primitive``
control (its sub-envs are reached in-process; an ``AsyncVectorEnv`` keeps them in other processes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from embodied.agents.base import Agent, batch_size
from embodied.agents.batching import model_batch, started_episodes
from embodied.agents.plan_grammar import PlanGrammar, tabletop_items
from embodied.agents.skills import IDLE_ACTION, next_skill, skill_action
from embodied.envs.tabletop.plans import PlanCheck, PlanError, PlanStep, parse_plan
from embodied.models.text_constraint import GrammarConstraint

__all__ = ["PlannerAgent"]


@dataclass
class _EnvPlan:
    """One sub-env's plan: its steps, the next step to run and the progress the running skill must reach."""

    steps: list[PlanStep] = field(default_factory=list)
    cursor: int = 0
    expected: int | None = None


class PlannerAgent(Agent):
    """Plans with ``model``'s text head, acts through privileged skills on the sub-envs of ``envs``."""

    name = "planner"

    def __init__(
        self,
        model: Any,
        envs: Any,
        text_head: str = "text",
        *,
        do_sample: bool = False,
        seed: int = 0,
        grammar: bool = False,
    ) -> None:
        super().__init__()
        subs = getattr(envs, "envs", None)
        if subs is None:
            raise TypeError(
                "PlannerAgent's skills read the live simulator: give it a SyncVectorEnv "
                "(embodied.envs.vector.make_vector_env(..., mode='sync'))"
            )
        self.sims = [e.unwrapped for e in subs]
        if any(getattr(s, "control", None) != "primitive" for s in self.sims):
            raise ValueError("PlannerAgent runs one primitive action per skill: make the envs with control='primitive'")
        if text_head not in model.heads:
            raise KeyError(f"model has no head {text_head!r}; its heads are {sorted(model.heads)}")
        self.model, self.text_head = model.eval(), text_head
        self.processor = model.processor
        self.do_sample, self.seed = do_sample, seed
        # constrained decoding to the plan grammar (agents.plan_grammar): every plan parses, names are free
        self.constraint = GrammarConstraint(PlanGrammar(tabletop_items()), model.tokenizer) if grammar else None
        self.generator = torch.Generator(device=next(model.parameters()).device).manual_seed(seed)
        self.reset(len(self.sims))

    def reset(self, num_envs: int = 1, seeds: Sequence[int | None] | None = None) -> None:
        super().reset(num_envs, seeds)
        n = len(self.sims)
        #: last plan text per sub-env, its check at generation, and how often the env re-planned
        self.plans: list[str | None] = [None] * n
        self.plan_checks: list[PlanCheck | None] = [None] * n
        self.replans = [0] * n
        self._state: list[_EnvPlan | None] = [None] * n
        self.generator.manual_seed(self.seed)

    def episode_done(self, index: int) -> None:
        self._state[index] = None

    @property
    def plan_valid(self) -> list[bool]:
        """Whether each sub-env's last plan was valid for its task (``env.check_plan``)."""
        return [c is not None and c.valid for c in self.plan_checks]

    # ------------------------------------------------------------------------------------------ acting
    def _act(self, obs: dict[str, Any], info: dict[str, Any]) -> np.ndarray:
        n = batch_size(obs)
        if n != len(self.sims):
            raise ValueError(f"got observations of {n} sub-envs but the agent drives {len(self.sims)}")
        for i in started_episodes(info, n):  # a sub-env that (auto)reset starts a new episode: plan afresh
            self._state[i] = None
        stale = [i for i in range(n) if not self._advance(i)]
        if stale:
            for i, text in zip(stale, self.generate_plans(obs, stale), strict=True):
                self._adopt(i, text)
        return np.stack([self._skill(i) for i in range(n)]).astype(np.float32)

    @torch.no_grad()
    def generate_plans(self, obs: dict[str, Any], rows: Sequence[int]) -> list[str]:
        """Plan texts for sub-envs ``rows`` (one batched generation with the text head)."""
        batch = model_batch(self.model, self.processor, obs, rows, "plan")
        texts: list[str] = self.model.predict(
            batch, self.text_head, do_sample=self.do_sample, generator=self.generator, constraint=self.constraint
        )
        return texts

    def _advance(self, i: int) -> bool:
        """Move env ``i`` past a skill that worked; False when it needs a (new) plan."""
        state = self._state[i]
        if state is None:
            return False
        if state.expected is not None:
            progress = self.sims[i].check_plan(state.steps).progress
            if progress < state.expected:
                self.replans[i] += 1  # the step failed: the state does not reflect it
                return False
            state.cursor, state.expected = state.expected, None
        if state.cursor >= len(state.steps):
            self.replans[i] += 1  # plan used up but the episode goes on: it was wrong or incomplete
            return False
        return True

    def _adopt(self, i: int, text: str) -> None:
        """Take a freshly generated plan; resume after the steps the current state already satisfies."""
        self.plans[i] = text
        check = self.sims[i].check_plan(text)
        self.plan_checks[i] = check
        try:
            steps = parse_plan(text)
        except PlanError:
            steps = []
        self._state[i] = _EnvPlan(steps, cursor=min(check.progress, len(steps)))

    def _skill(self, i: int) -> np.ndarray:
        """The primitive action of env ``i``'s next skill; idle when the plan is used up or its next step cannot
        run (then it expects an unreachable progress, so the next call counts a failure and re-plans)."""
        state = self._state[i]
        assert state is not None
        if state.cursor >= len(state.steps):
            return IDLE_ACTION.copy()
        skill = next_skill(state.steps, state.cursor)
        action = None if skill is None else skill_action(self.sims[i], skill)
        if skill is None or action is None:
            state.expected = len(state.steps) + 1
            return IDLE_ACTION.copy()
        state.expected = state.cursor + skill.steps
        return action
