"""The ``embodied eval`` suite (composition): check the request, load the model, run every block, assemble results.

Order, so that bad input fails fast and before any weights load: the env id must be registered (a ``module:Id`` id
imports its module first, as ``gymnasium.make`` does: see ``embodied.envs.register_adapted``); the saved model
must match its ``manifest.json`` (``verify_model_dir``, once: the load below skips it); the model's
config (``config.json``) must name the heads the blocks need (an action head for rollouts, a text head for VQA
and plans); the env must build with the resolved kwargs. Env kwargs resolve, later entries winning:

1. the model's ``image_size`` and ``cameras`` (the observations it was built for);
2. ``data.env_kwargs`` of the run's ``config.yaml`` when the model sits in a run directory (e.g. ``control``);
3. ``instruction_split="heldout"`` for ``--split heldout`` on tabletop tasks;
4. the user's ``--env-kwarg`` entries;
5. for the VQA env only, ``EvalOptions.vqa_env_kwargs`` (e.g. the question types a model was trained on).

Entries 1–2 are kept only where the env's constructor takes them; entry 4 is passed as given (a wrong key is an
``EvalInputError``). Blocks: the model's rollouts (``mmllm``: its action head through ``MMLLMAgent``), each
baseline (``make_baseline``), the planner (``PlannerAgent`` on the text head, primitive control) and VQA
(``MMLLMAgent`` with ``prompt="vqa"`` on ``embodied/TabletopVQA-v0``). All start at the same seed, so every agent
meets the same scenes. A baseline that needs what the env lacks (``scripted``: ``env.unwrapped.expert_action``) is
skipped with a one-line reason (``EvalResults.skipped``). Each agent's result records the success rule of an
adapted env (``info["success_rule"]``) and its returns; when every episode failed while returns were positive,
``EvalResults.warnings`` says so (``embodied.eval.success_check``).
"""

from __future__ import annotations

import copy
import inspect
from pathlib import Path
from typing import Any

import gymnasium as gym
import yaml
from gymnasium.envs.registration import load_env_creator

import embodied.envs  # noqa: F401  (registers the embodied/ env ids)
from embodied.agents.build import make_baseline, quantize_model
from embodied.agents.evaluate import (
    VQA_ENV_ID,
    EpisodeStats,
    evaluate_agent,
    evaluate_plans,
    evaluate_vqa,
    vqa_answer_space,
)
from embodied.agents.mmllm import ACTION_KINDS, TEXT_KINDS, MMLLMAgent
from embodied.agents.planner import PlannerAgent
from embodied.envs.adapted import adapted_ids, resolve_env_id
from embodied.envs.registration import TASK_SPECS
from embodied.eval.manifest import build_manifest
from embodied.eval.media import write_gif
from embodied.eval.options import EvalInputError, EvalOptions
from embodied.eval.results import (
    DEFAULT_SUCCESS_RULE,
    AgentResult,
    EvalResults,
    PlanResult,
    VQAResult,
    agent_result,
    plan_result,
    vqa_result,
)
from embodied.eval.run_dir import locate_run
from embodied.eval.success_check import silent_failure_warning

__all__ = ["resolve_env_kwargs", "run_suite"]

VIDEO_DIR = "videos"
_MODEL_KWARGS = ("image_size", "cameras")
_PRIMITIVE_FPS = 2.0  # one primitive is a whole pick-and-place: slow the few frames down


def _env_parameters(env_id: str) -> set[str] | None:
    """Keyword names the env's constructor takes (``None`` when it takes ``**kwargs`` or cannot be inspected)."""
    spec = gym.spec(resolve_env_id(env_id))
    creator = load_env_creator(spec.entry_point) if isinstance(spec.entry_point, str) else spec.entry_point
    if creator is None:
        return None
    params = inspect.signature(creator).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return {p.name for p in params} - set(spec.kwargs)


def _accepted(env_id: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    names = _env_parameters(env_id)
    return dict(kwargs) if names is None else {k: v for k, v in kwargs.items() if k in names}


def _run_env_kwargs(model_dir: Path) -> dict[str, Any]:
    """``data.env_kwargs`` of the model's run directory (empty when not in a run or unreadable)."""
    run = locate_run(model_dir)
    if run is None:
        return {}
    try:
        config = yaml.safe_load((run.run_dir / "config.yaml").read_text(encoding="utf-8")) or {}
        kwargs = (config.get("data") or {}).get("env_kwargs") or {}
    except (OSError, yaml.YAMLError, AttributeError):
        return {}
    return dict(kwargs) if isinstance(kwargs, dict) else {}


def resolve_env_kwargs(options: EvalOptions, spec: Any, env_id: str | None = None) -> dict[str, Any]:
    """The env kwargs for ``env_id`` (default ``options.env_id``) in the precedence of the module docstring."""
    env_id = env_id or options.env_id
    defaults = {k: getattr(spec, k) for k in _MODEL_KWARGS}
    defaults.update(_run_env_kwargs(options.checkpoint))
    if options.split == "heldout" and env_id in TASK_SPECS:
        defaults["instruction_split"] = "heldout"
    given = options.env_kwargs if env_id == options.env_id else _accepted(env_id, options.env_kwargs)
    extra = options.vqa_env_kwargs if env_id == VQA_ENV_ID and env_id != options.env_id else {}
    return {**_accepted(env_id, defaults), **given, **extra}


def _check_env_id(env_id: str) -> None:
    try:
        bare = resolve_env_id(env_id)
    except ValueError as err:
        raise EvalInputError(f"--env: {err}") from None
    if bare not in gym.registry:
        known = sorted(k for k in gym.registry if k.startswith("embodied/")) + adapted_ids()
        raise EvalInputError(
            f"unknown env id {env_id!r}; registered embodied envs: {', '.join(known)} (a third-party env: "
            "--env mymodule:my/Env-v0, where mymodule calls embodied.envs.register_adapted)"
        )


def _check_env(env_id: str, kwargs: dict[str, Any]) -> tuple[Any, bool]:
    """Build the env once (kwargs it rejects become ``EvalInputError``); its action space and whether it has an
    expert (``env.unwrapped.expert_action``, what the ``scripted`` baseline drives)."""
    try:
        env = gym.make(env_id, **kwargs)
    except (TypeError, ValueError, KeyError) as err:
        raise EvalInputError(f"cannot make {env_id} with env kwargs {kwargs}: {err}") from None
    space, has_expert = env.action_space, callable(getattr(env.unwrapped, "expert_action", None))
    env.close()
    return space, has_expert


def _check_action_dim(spec: Any, space: Any, options: EvalOptions, kwargs: dict[str, Any]) -> None:
    """The action head's vectors must fit the env's ``Box`` actions (a text env cannot take them at all)."""
    box = isinstance(space, gym.spaces.Box)
    if box and space.shape[-1] == spec.action_dim:
        return
    discrete = getattr(spec, "discrete_actions", None)  # a discrete model steps Discrete(n) with its indices
    if isinstance(space, gym.spaces.Discrete) and discrete is not None:
        if int(space.n) == discrete:
            return
        raise EvalInputError(
            f"{options.env_id} takes Discrete({space.n}) actions but the model has discrete_actions {discrete}"
        )
    got = f"{space.shape[-1]}-d actions" if box else f"{type(space).__name__} actions"
    raise EvalInputError(
        f"{options.env_id} with env kwargs {kwargs} takes {got} but the model's action head gives {spec.action_dim}-d"
        " ones (choose the control mode with --env-kwarg control=..., or skip rollouts with --episodes 0)"
    )


def _heads(spec: Any, options: EvalOptions, kwargs: dict[str, Any]) -> tuple[str | None, str | None]:
    """(action head, text head) for the requested blocks; ``EvalInputError`` when a block cannot run."""
    kinds = {name: str(h["kind"]) for name, h in spec.heads.items()}
    if options.head is not None and kinds.get(options.head) not in ACTION_KINDS:
        raise EvalInputError(f"--head {options.head!r} is not an action head of the model; heads and kinds: {kinds}")
    action = options.head or next((n for kind in ACTION_KINDS for n, k in kinds.items() if k == kind), None)
    text = next((n for n, k in kinds.items() if k in TEXT_KINDS), None)
    if text is None and (options.vqa_episodes or options.plan_episodes):
        raise EvalInputError(f"--vqa-episodes and --plan-episodes need a text head; the model's heads: {kinds}")
    if options.plan_episodes and (
        options.env_id not in TASK_SPECS or kwargs.get("control", "primitive") != "primitive"
    ):
        raise EvalInputError("--plan-episodes needs a tabletop task with control=primitive (the planner's skills)")
    return action, text


def _load(options: EvalOptions) -> Any:
    """The checkpoint's model on the chosen device (checked by ``options_from_args``), in eval mode."""
    from safetensors import SafetensorError

    from embodied.cli_checks import resolve_device
    from embodied.models import MMLLM

    try:  # verified against its manifest by _spec; a model saved before manifests may still be damaged
        model: Any = MMLLM.from_pretrained(str(options.checkpoint), verify_integrity=False)
    except (OSError, KeyError, ValueError, SafetensorError) as err:
        reason = (str(err).splitlines() or [""])[0]
        raise EvalInputError(f"cannot load the model in {options.checkpoint}: {type(err).__name__}: {reason}") from None
    if options.task_adapter is not None:
        names = model.task_adapters
        if options.task_adapter != "base" and options.task_adapter not in names:
            raise EvalInputError(
                f"--task-adapter {options.task_adapter}: the model has task adapters {names} (or 'base')"
            )
        model.use_task_adapter(None if options.task_adapter == "base" else options.task_adapter)
    return model.to(resolve_device(options.device)).eval()


def _videos(stats: EpisodeStats, options: EvalOptions, fps: float) -> list[str]:
    """GIFs of the recorded episodes → paths relative to ``options.out``."""
    paths = []
    for i, frames in enumerate(stats.frames):
        rel = f"{VIDEO_DIR}/{stats.agent}-{i:03d}.gif"
        write_gif(frames, options.out / rel, fps)
        paths.append(rel)
    return paths


def _result(stats: EpisodeStats, options: EvalOptions, fps: float) -> AgentResult:
    rules = {str(e.final_info["success_rule"]) for e in stats.episodes if "success_rule" in e.final_info}
    returns = [float(e.final_info.get("episode_return", e.reward)) for e in stats.episodes]
    return agent_result(
        stats.agent,
        options.env_id,
        options.split,
        seeds=stats.seeds,
        successes=stats.successes,
        lengths=stats.lengths,
        decision_seconds=stats.decision_seconds,
        num_envs=stats.num_envs,
        videos=_videos(stats, options, fps),
        success_rule=" | ".join(sorted(rules)) or DEFAULT_SUCCESS_RULE,
        episode_returns=returns if any("episode_return" in e.final_info for e in stats.episodes) else None,
    )


def _warnings(agents: list[AgentResult]) -> list[str]:
    """A silent-zero warning per agent whose episodes all failed while its returns were positive."""
    found = (
        silent_failure_warning(a.episode_success, a.episode_returns or [], a.success_rule, f"agent {a.agent}")
        for a in agents
    )
    return [w for w in found if w is not None]


def _rollouts(
    options: EvalOptions, model: Any, action_head: str | None, kwargs: dict[str, Any], skipped: dict[str, str]
) -> list[EpisodeStats]:
    """The model's and the baselines' episodes (the baselines in ``skipped`` do not run)."""
    common: dict[str, Any] = {"video_episodes": options.videos, "max_steps": options.max_steps}
    args = (options.env_id, kwargs, options.episodes, options.seed, options.num_envs)
    runs = []
    if action_head is not None and options.episodes:
        do_sample, temperature = options.sampling  # seeded by options.seed: the same seed, the same rollouts
        acting = {"do_sample": do_sample, "temperature": temperature, "seed": options.seed}
        runs.append(evaluate_agent(MMLLMAgent(model, action_head, **acting), *args, **common))
        if options.int8:
            quantized = MMLLMAgent(quantize_model(copy.deepcopy(model), "int8"), action_head, **acting)
            quantized.name = "mmllm-int8"
            runs.append(evaluate_agent(quantized, *args, **common))
    for kind in (k for k in options.baselines if k not in skipped):
        runs.append(evaluate_agent(lambda envs, k=kind: make_baseline(k, envs, options.seed), *args, **common))
    return runs


def _plans(options: EvalOptions, model: Any, text_head: str, kwargs: dict[str, Any]) -> tuple[EpisodeStats, PlanResult]:
    outcome = evaluate_plans(
        lambda envs: PlannerAgent(model, envs, text_head, grammar=options.plan_grammar),
        options.env_id,
        kwargs,
        options.plan_episodes,
        options.seed,
        options.num_envs,
        video_episodes=options.videos,
    )
    return outcome.stats, plan_result("planner", options.env_id, options.split, outcome.records)


def _vqa(options: EvalOptions, model: Any, text_head: str, spec: Any) -> VQAResult:
    agent = MMLLMAgent(model, text_head, prompt="vqa")
    kwargs = resolve_env_kwargs(options, spec, VQA_ENV_ID)
    records = evaluate_vqa(agent, options.vqa_episodes, options.seed, options.num_envs, kwargs)
    return vqa_result(agent.name, VQA_ENV_ID, options.split, records, agent.decision_seconds, vqa_answer_space())


def _spec(options: EvalOptions) -> Any:
    """The model spec from the checkpoint's ``config.json`` (no weights loaded), after verifying the directory."""
    from embodied.models import MMLLMConfig
    from embodied.models.integrity import verify_model_dir

    verify_model_dir(options.checkpoint)  # ModelIntegrityError names the changed, missing or unlisted file
    try:
        return MMLLMConfig.from_pretrained(str(options.checkpoint)).model_spec
    except (OSError, ValueError, KeyError, TypeError) as err:
        reason = (str(err).splitlines() or [""])[0]
        raise EvalInputError(f"cannot read the model config in {options.checkpoint}: {reason}") from None


def run_suite(options: EvalOptions) -> EvalResults:
    """Every block ``options`` asks for, as one validated ``EvalResults`` (videos written under ``options.out``)."""
    _check_env_id(options.env_id)
    spec = _spec(options)
    kwargs = resolve_env_kwargs(options, spec)
    space, has_expert = _check_env(options.env_id, kwargs)
    action_head, text_head = _heads(spec, options, kwargs)
    if action_head is not None and options.episodes:
        _check_action_dim(spec, space, options, kwargs)
    skipped: dict[str, str] = {}
    if "scripted" in options.baselines and not has_expert:
        skipped["scripted"] = f"{options.env_id} has no scripted expert (env.unwrapped.expert_action)"
    model = _load(options)
    runs = _rollouts(options, model, action_head, kwargs, skipped)
    plans = None
    if options.plan_episodes and text_head is not None:
        planner_stats, plans = _plans(options, model, text_head, kwargs)
        runs.append(planner_stats)
    vqa = _vqa(options, model, text_head, spec) if options.vqa_episodes and text_head is not None else None
    counts = {"rollouts": options.episodes, "vqa": options.vqa_episodes, "plans": options.plan_episodes}
    manifest = build_manifest(
        seeds={block: (options.seed, n) for block, n in counts.items()},
        episode_counts=counts,
        env_kwargs=kwargs,
        renderer=runs[0].renderer if runs else None,
        device=str(next(model.parameters()).device),
        model_dir=options.checkpoint,
    )
    fps = _PRIMITIVE_FPS if kwargs.get("control", "primitive") == "primitive" else 10.0
    agents = [_result(stats, options, fps) for stats in runs]
    return EvalResults(
        checkpoint=str(options.checkpoint),
        env_id=options.env_id,
        split=options.split,
        agents=agents,
        vqa=vqa,
        plans=plans,
        manifest=manifest,
        warnings=_warnings(agents),
        skipped=skipped,
    )
