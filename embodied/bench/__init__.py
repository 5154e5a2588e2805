"""Performance benchmarks; each module exposes ``run(quick: bool = False) -> dict`` with ratios from one run."""
