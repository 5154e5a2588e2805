"""The symbolic steps an agent has executed, read from physical events (for any agent, not only experts).

* in tasks whose plans pick and place: a grasp of object ``o`` → ``pick(o)``; a release of ``o`` →
  ``place(x)`` once ``o`` comes to rest (or another event follows), where ``x`` is its ``location``: a
  receptacle, the object it rests on, or ``table``;
* in tasks whose plans use them: the first hand contact with ``o`` → ``touch(o)``; ``o`` arriving inside a zone
  while not held → ``push(o, zone)``.

So ``env.unwrapped.executed_steps`` of a successful expert episode is a plan that ``check_plan`` accepts,
and a policy's behaviour can be compared with the plan it stated.
"""

from __future__ import annotations

import numpy as np

from embodied.envs.tabletop.plans import PlanStep
from embodied.envs.tabletop.predicates import location
from embodied.envs.tabletop.scene import TabletopScene

REST_SPEED = 0.05  # m/s below which a released object counts as at rest


class StepRecorder:
    def __init__(self, verbs: frozenset[str]) -> None:
        self.verbs = verbs
        self.steps: list[PlanStep] = []
        self._seen = 0
        self._pending: str | None = None  # released object whose place is not yet recorded
        self._zone_of: dict[str, str] = {}

    def update(self, scene: TabletopScene) -> None:
        """Read the events since the last call; call after every env step."""
        for kind, name in scene.events[self._seen :]:
            if kind == "grasp" and "pick" in self.verbs:
                self._resolve(scene)
                self.steps.append(PlanStep("pick", (name,)))
            elif kind == "release" and "place" in self.verbs:
                self._resolve(scene)
                self._pending = name
            elif kind == "touch" and "touch" in self.verbs:
                self.steps.append(PlanStep("touch", (name,)))
        self._seen = len(scene.events)
        if self._pending is not None and np.linalg.norm(scene.velocity(self._pending)) < REST_SPEED:
            self._resolve(scene)
        if "push" in self.verbs:
            self._record_pushes(scene)

    def current(self, scene: TabletopScene) -> list[PlanStep]:
        """The steps so far, with a still-moving released object placed where it is now."""
        if self._pending is None:
            return list(self.steps)
        return [*self.steps, PlanStep("place", (self._where(scene, self._pending),))]

    def _where(self, scene: TabletopScene, name: str) -> str:
        loc = location(scene, scene.get(name))
        return "table" if loc in ("held", "off") else loc

    def _resolve(self, scene: TabletopScene) -> None:
        if self._pending is not None:
            self.steps.append(PlanStep("place", (self._where(scene, self._pending),)))
            self._pending = None

    def _record_pushes(self, scene: TabletopScene) -> None:
        zones = {r.name for r in scene.receptacles if r.shape == "zone"}
        for obj in scene.movable:
            loc = location(scene, obj)
            if loc in zones and self._zone_of.get(obj.name) != loc:
                self.steps.append(PlanStep("push", (obj.name, loc)))
            self._zone_of[obj.name] = loc
