"""No code path of the package can unpickle: scan every source file for the calls that would."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
PACKAGES = ("embodied", "envs", "agents")
FORBIDDEN = {
    "weights_only=False": re.compile(r"weights_only\s*=\s*False"),
    "pickle.load / pickle.loads": re.compile(r"\bpickle\s*\.\s*loads?\b"),
    "trust_remote_code=True": re.compile(r"trust_remote_code\s*=\s*True"),
    "torch.load without weights_only=True": re.compile(
        r"(?<![\w.])torch\s*\.\s*load\s*\((?![^)]*weights_only\s*=\s*True)"  # safetensors.torch.load is safe
    ),
}


def _sources() -> list[Path]:
    return sorted(path for package in PACKAGES for path in (REPO / package).rglob("*.py"))


def test_package_sources_never_unpickle_or_run_remote_code() -> None:
    sources = _sources()
    assert len(sources) > 20 and REPO / "embodied" / "training" / "checkpoint.py" in sources
    offences = [
        f"{path.relative_to(REPO)}:{text[: match.start()].count(chr(10)) + 1}: {name}"
        for path in sources
        for text in [path.read_text(encoding="utf-8")]
        for name, pattern in FORBIDDEN.items()
        for match in pattern.finditer(text)
    ]
    assert offences == []


def test_the_scan_patterns_catch_what_they_should() -> None:
    caught = {
        "torch.load(path, weights_only = False)": ["weights_only=False", "torch.load without weights_only=True"],
        "state = pickle.loads(blob)": ["pickle.load / pickle.loads"],
        "AutoModel.from_pretrained(p, trust_remote_code=True)": ["trust_remote_code=True"],
        "torch.load(path)": ["torch.load without weights_only=True"],
        "torch.load(path, weights_only=True)": [],
        "safetensors.torch.load(data)": [],
    }
    for line, expected in caught.items():
        assert [name for name, pattern in FORBIDDEN.items() if pattern.search(line)] == expected, line
