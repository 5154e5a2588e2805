"""The task contract: what a scene holds, what the instruction says, what counts as success, and the plan.

A task is a small object rebuilt each episode: ``sample(rng, attribute_split)`` chooses the items (and binds
names such as ``target``/``receptacle`` in ``self.bindings``); the env builds the scene from the returned
specs. Everything else derives from ``subgoals()`` — ``(verb, object, target)`` triples in canonical order:

* the goal (symbolic and physical): every subgoal holds — ``touch``: the hand touched the object;
  ``place``/``push``: the object's ``location`` is the target (a receptacle, or an object for stacking);
* the plan: ``touch(o)``, ``push(o, zone)`` or ``pick(o), place(target)`` per subgoal;
* the dense reward (``reward_mode="dense"``): ``0.9 × (satisfied subgoals + partial credit on the next one) /
  number of subgoals``, 1.0 on success. Partial credit: approach (hand near the object) up to 0.5, then
  transport (object near its target) up to 0.5; ``touch`` counts approach only, scaled to 1.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from embodied.envs.tabletop.objects import SHAPES, ObjectSpec
from embodied.envs.tabletop.plans import PlanStep, SymbolicState
from embodied.envs.tabletop.predicates import location
from embodied.envs.tabletop.scene import TabletopScene
from embodied.envs.tabletop.splits import check_split, pairs

Subgoal = tuple[str, str, str]  # (verb, object, target); target "" for touch
SHAPING_SCALE = 0.05  # metres: distance at which partial credit has decayed to 1/e


class Task(ABC):
    """Base class; subclasses set the class attributes and implement ``sample`` and ``subgoals``."""

    name: ClassVar[str]
    env_id: ClassVar[str]
    train_templates: ClassVar[tuple[str, ...]]
    heldout_templates: ClassVar[tuple[str, ...]]
    primitive: ClassVar[str] = "pick_place"  # or "push", "touch": what one primitive-mode action does
    verbs: ClassVar[frozenset[str]] = frozenset({"pick", "place"})
    allow_grasp: ClassVar[bool] = True  # False: closing the fingers never attaches an object
    max_steps: ClassVar[dict[str, int]]  # per control mode

    def __init__(self) -> None:
        self.bindings: dict[str, str] = {}

    @abstractmethod
    def sample(self, rng: np.random.Generator, attribute_split: str) -> list[ObjectSpec]:
        """Choose the items of one episode (first the primary object) and set ``self.bindings``."""

    @abstractmethod
    def subgoals(self) -> list[Subgoal]:
        """The goal as ``(verb, object, target)`` triples, in the canonical (expert) order."""

    def layout_ok(self, scene: TabletopScene) -> bool:
        """Reject a placed layout (e.g. a distractor in a push path); the env then re-samples positions."""
        return True

    def templates(self, instruction_split: str) -> tuple[str, ...]:
        check_split("instruction_split", instruction_split)
        return self.train_templates if instruction_split == "train" else self.heldout_templates

    def instruction(self, rng: np.random.Generator, instruction_split: str) -> str:
        options = self.templates(instruction_split)
        return options[int(rng.integers(len(options)))].format(**self.bindings)

    # -- goal and plan -------------------------------------------------------------------------------------
    def involved(self) -> set[str]:
        return {obj for _, obj, _ in self.subgoals()}

    def plan(self) -> list[PlanStep]:
        steps: list[PlanStep] = []
        for verb, obj, target in self.subgoals():
            if verb == "touch":
                steps.append(PlanStep("touch", (obj,)))
            elif verb == "push":
                steps.append(PlanStep("push", (obj, target)))
            else:
                steps += [PlanStep("pick", (obj,)), PlanStep("place", (target,))]
        return steps

    @staticmethod
    def satisfied(subgoal: Subgoal, state: SymbolicState) -> bool:
        verb, obj, target = subgoal
        return obj in state.touched if verb == "touch" else state.location.get(obj) == target

    def goal(self, state: SymbolicState) -> bool:
        return all(self.satisfied(g, state) for g in self.subgoals())

    def success(self, scene: TabletopScene) -> bool:
        return self.goal(observe(scene))

    def next_subgoal(self, scene: TabletopScene) -> Subgoal | None:
        """The subgoal to work on: the held object's, else the first unsatisfied one; None when all hold."""
        state = observe(scene)
        open_goals = [g for g in self.subgoals() if not self.satisfied(g, state)]
        held = [g for g in open_goals if g[1] == state.held]
        candidates = held or open_goals
        return candidates[0] if candidates else None

    def dense_reward(self, scene: TabletopScene) -> float:
        goals = self.subgoals()
        state = observe(scene)
        done = sum(self.satisfied(g, state) for g in goals)
        if done == len(goals):
            return 1.0
        nxt = self.next_subgoal(scene)
        assert nxt is not None
        verb, obj, target = nxt
        assert scene.robot is not None
        approach = float(np.exp(-np.linalg.norm(scene.robot.ee_pose()[0] - scene.position(obj)) / SHAPING_SCALE))
        if verb == "touch":
            partial = approach
        else:
            gap = np.linalg.norm(scene.position(obj)[:2] - scene.position(target)[:2])
            carried = state.held == obj or verb == "push"
            partial = 0.5 * (1.0 if carried else approach) + 0.5 * float(np.exp(-gap / SHAPING_SCALE))
        return 0.9 * (done + partial) / len(goals)


def observe(scene: TabletopScene) -> SymbolicState:
    """The symbolic state of the physical scene (see ``predicates.location``)."""
    held = scene.held
    return SymbolicState(
        {o.name: location(scene, o) for o in scene.movable}, None if held is None else held.name, set(scene.touched)
    )


def draw_pairs(
    rng: np.random.Generator,
    attribute_split: str,
    n: int,
    primary_shapes: Sequence[str] = SHAPES,
    other_shapes: Sequence[str] = SHAPES,
    primary_colours: Sequence[str] | None = None,
    other_colours: Sequence[str] | None = None,
) -> list[tuple[str, str]]:
    """``n`` distinct colour–shape pairs: the first (primary) from ``attribute_split``, the rest from training
    pairs (see ``splits``)."""
    first_pool = pairs(attribute_split, primary_colours, primary_shapes)
    first = first_pool[int(rng.integers(len(first_pool)))]
    rest_pool = [p for p in pairs("train", other_colours, other_shapes) if p != first]
    rest = [rest_pool[int(i)] for i in rng.choice(len(rest_pool), size=n - 1, replace=False)]
    return [first, *rest]
