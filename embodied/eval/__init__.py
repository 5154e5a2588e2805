"""Evaluation: rates with confidence intervals, VQA scoring, the ``results.json`` schema, and the HTML report.

``stats`` (Wilson intervals, latency percentiles), ``vqa_scores`` (accuracy per question type, POPE hallucination
figures), ``results`` (schema and writer), ``manifest`` / ``run_dir`` (provenance of what was evaluated),
``figures`` + ``media`` + ``report`` (one self-contained ``report.html``), ``command`` (``embodied eval``).
``doctor`` + ``doctor_*`` (``embodied doctor``: five checks for silent train/inference mismatches of a checkpoint).

The rollouts themselves are composition — they need envs and agents — and live in ``embodied.agents.evaluate``;
nothing here imports ``embodied.envs`` or ``embodied.agents`` at module level, and importing this package is cheap.
"""
