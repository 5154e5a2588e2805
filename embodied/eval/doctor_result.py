"""``CheckResult``: the outcome of one ``embodied doctor`` check and the evidence that decided it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CheckResult:
    """``passed``: the check ran and found nothing wrong; ``skipped``: it could not run (``passed`` is then False).

    ``evidence`` names the numbers or ids that decided the outcome (what differs, by how much, where).
    """

    name: str
    passed: bool
    evidence: str
    skipped: bool = False

    @classmethod
    def skip(cls, name: str, reason: str) -> CheckResult:
        """A check that could not run: evidence ``skipped (<reason>)``."""
        return cls(name, False, f"skipped ({reason})", skipped=True)

    @property
    def status(self) -> str:
        """``pass``, ``FAIL`` or ``skip`` (upper case so failures stand out in the table)."""
        if self.skipped:
            return "skip"
        return "pass" if self.passed else "FAIL"
