"""Entry point of the multi-process training test: ``embodied.cli`` with every data order recording what it drew.

``accelerate launch --cpu --num_processes 2 -m tests.integration.launch_support OUT train ...``: each process
appends one JSON line per micro-batch to ``OUT/rank<R>.jsonl``: which data order (0 = the first stage's), its
position and the indices of the drawn samples.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from embodied.cli import main
from embodied.training.data_order import DataOrder


def record_draws(out: Path) -> None:
    """Patch ``DataOrder`` so that every batch's sample indices are appended to ``out/rank<shard>.jsonl``."""
    init, positions = DataOrder.__init__, DataOrder._positions
    created = [0]

    def numbered_init(self: DataOrder, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        self.number = created[0]  # type: ignore[attr-defined]
        created[0] += 1

    def recorded_positions(self: DataOrder) -> range:
        chosen = positions(self)
        ids = [self._order[p % len(self._order)] for p in chosen]
        line = {"order": self.number, "epoch": self.epoch, "index": self.index, "ids": ids}  # type: ignore[attr-defined]
        with (out / f"rank{self.shard}.jsonl").open("a", encoding="utf-8") as file:
            file.write(json.dumps(line) + "\n")
        return chosen

    DataOrder.__init__ = numbered_init  # type: ignore[method-assign]
    DataOrder._positions = recorded_positions  # type: ignore[method-assign]


if __name__ == "__main__":
    record_draws(Path(sys.argv[1]))
    sys.exit(main(sys.argv[2:]))
