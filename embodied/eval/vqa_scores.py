"""VQA scoring: accuracy per question type against chance and majority baselines, and POPE hallucination figures.

Records hold normalised answers and predictions (the VQA env normalises both with ``normalize_answer``), so a
prediction is correct iff it equals the answer. Baselines per question type, from the evaluated records:

- ``chance``: 1/k for the k answers the type allows (``answer_space``, given by the caller who knows the env),
  else 1/2 for yes/no types and 1/k for the k distinct answers seen;
- ``majority``: the accuracy of always giving the type's most frequent answer among these records — an upper
  bound for any answer-only guesser on this sample (it peeks at the answer distribution).

POPE (Li et al., 2023, "Evaluating Object Hallucination in Large Vision-Language Models") scores the existence
questions ("is there a yellow sphere?") as binary classification with "yes" the positive class: accuracy,
precision, recall, F1 and the yes-ratio (share of "yes" predictions; far above the share of "yes" answers shows
a model that hallucinates objects). As in POPE, any prediction other than "yes" counts as "no".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field

from embodied.eval.stats import wilson_interval

__all__ = ["EXISTENCE", "PopeScores", "TypeScore", "VQARecord", "accuracy_by_type", "pope_scores"]

EXISTENCE = "existence"
_YES_NO = frozenset({"yes", "no"})


class VQARecord(BaseModel):
    """One answered question: its type, the normalised ground truth and prediction, and whether they match."""

    model_config = ConfigDict(extra="forbid")

    qtype: str
    question: str
    answer: str
    prediction: str
    correct: bool
    seed: int | None = None
    #: the prediction names a colour or shape that nothing on the table has (a hallucinated object)
    absent: bool = False


class TypeScore(BaseModel):
    """Accuracy on one question type with its Wilson 95% interval and the two answer-only baselines."""

    model_config = ConfigDict(extra="forbid")

    n: int = Field(ge=0)
    correct: int = Field(ge=0)
    accuracy: float = Field(ge=0.0, le=1.0)
    ci95: tuple[float, float]
    chance: float = Field(ge=0.0, le=1.0)
    majority: float = Field(ge=0.0, le=1.0)
    majority_answer: str


class PopeScores(BaseModel):
    """POPE figures on existence questions ("yes" is positive); precision is 0.0 when nothing was called "yes"."""

    model_config = ConfigDict(extra="forbid")

    n: int = Field(ge=0)
    accuracy: float = Field(ge=0.0, le=1.0)
    precision: float = Field(ge=0.0, le=1.0)
    recall: float = Field(ge=0.0, le=1.0)
    f1: float = Field(ge=0.0, le=1.0)
    yes_ratio: float = Field(ge=0.0, le=1.0)
    answer_yes_ratio: float = Field(ge=0.0, le=1.0)


def type_score(records: Sequence[VQARecord], choices: Sequence[str] | None = None) -> TypeScore:
    """Accuracy, interval and baselines of ``records`` (all of one question type, at least one); ``choices`` are
    the answers the type allows (for the chance baseline)."""
    if not records:
        raise ValueError("type_score needs at least one record")
    n, correct = len(records), sum(r.correct for r in records)
    answers = Counter(r.answer for r in records)
    majority_answer, majority_count = max(answers.items(), key=lambda kv: (kv[1], kv[0]))
    seen = _YES_NO if set(answers) <= _YES_NO else set(answers)
    chance = 1.0 / len(set(choices) if choices else seen)
    return TypeScore(
        n=n,
        correct=correct,
        accuracy=correct / n,
        ci95=wilson_interval(correct, n),
        chance=chance,
        majority=majority_count / n,
        majority_answer=majority_answer,
    )


def accuracy_by_type(
    records: Sequence[VQARecord], answer_space: Mapping[str, Sequence[str]] | None = None
) -> dict[str, TypeScore]:
    """``TypeScore`` per question type present in ``records``, types in sorted order (``answer_space``: qtype →
    the answers it allows, for the chance baseline)."""
    by_type: dict[str, list[VQARecord]] = {}
    for record in records:
        by_type.setdefault(record.qtype, []).append(record)
    space = answer_space or {}
    return {qtype: type_score(by_type[qtype], space.get(qtype)) for qtype in sorted(by_type)}


def pope_scores(records: Sequence[VQARecord], qtype: str = EXISTENCE) -> PopeScores | None:
    """POPE figures over the ``qtype`` records (``None`` when there are none)."""
    rows = [r for r in records if r.qtype == qtype]
    if not rows:
        return None
    said_yes = [r.prediction == "yes" for r in rows]
    is_yes = [r.answer == "yes" for r in rows]
    tp = sum(p and a for p, a in zip(said_yes, is_yes, strict=True))
    fp = sum(p and not a for p, a in zip(said_yes, is_yes, strict=True))
    fn = sum(a and not p for p, a in zip(said_yes, is_yes, strict=True))
    tn = len(rows) - tp - fp - fn
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PopeScores(
        n=len(rows),
        accuracy=(tp + tn) / len(rows),
        precision=precision,
        recall=recall,
        f1=f1,
        yes_ratio=sum(said_yes) / len(rows),
        answer_yes_ratio=sum(is_yes) / len(rows),
    )
