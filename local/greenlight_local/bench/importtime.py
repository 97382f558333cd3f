"""What a cold import spends its time on, from `python -X importtime`: own time summed per top-level
package, and the cumulative time of each module the handler imports directly."""

from __future__ import annotations

import subprocess
import sys
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from greenlight_local.bench.report import ms
from greenlight_local.bench.stats import median


@dataclass
class ImportCosts:
    packages: list[tuple[str, float]]  # top-level package -> self time summed (s)
    chains: list[tuple[str, float]]  # direct imports of the handler -> cumulative (s)

    def summary(self) -> str:
        packages = ", ".join(f"{name} {ms(seconds)}" for name, seconds in self.packages[:6])
        chains = ", ".join(f"{name} {ms(seconds)}" for name, seconds in self.chains[:6])
        return f"heaviest packages (own time) {packages}; heaviest imports of the handler (cumulative) {chains}"

    def sentence(self) -> str:
        chains = ", ".join(f"{name} ({ms(seconds)})" for name, seconds in self.chains[:3])
        packages = ", ".join(f"{name} ({ms(seconds)})" for name, seconds in self.packages[:3])
        return f"the heaviest imports it triggers are {chains}; by package, {packages}"


def import_costs(module: str, env: Mapping[str, str], runs: int = 3) -> ImportCosts:
    """Median over `runs` fresh processes importing `module` with `env`."""
    packages: dict[str, list[float]] = defaultdict(list)
    chains: dict[str, list[float]] = defaultdict(list)
    for _ in range(runs):
        done = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"],
                              env=dict(env), check=True, timeout=60, capture_output=True, text=True)
        own: dict[str, float] = defaultdict(float)
        children: list[tuple[str, float]] = []  # depth-1 lines since the last top-level one
        for line in done.stderr.splitlines():
            parsed = parse_importtime(line)
            if parsed is None:
                continue
            name, self_us, cumulative_us, depth = parsed
            own[name.split(".")[0]] += self_us / 1e6
            if depth == 1:
                children.append((name, cumulative_us / 1e6))
            elif depth == 0:
                # Post-order: a module's line follows its children's, so these were the handler's own imports.
                if name == module:
                    for child, seconds in children:
                        chains[child].append(seconds)
                children = []
        for name, seconds in own.items():
            packages[name].append(seconds)
    return ImportCosts(
        packages=sorted(((n, median(v)) for n, v in packages.items()), key=lambda item: -item[1]),
        chains=sorted(((n, median(v)) for n, v in chains.items()), key=lambda item: -item[1]))


def parse_importtime(line: str) -> tuple[str, int, int, int] | None:
    """'import time:       123 |       4567 |     name' -> (name, 123, 4567, depth); depth 0 = top level."""
    if not line.startswith("import time:") or "self [us]" in line:
        return None
    try:
        self_us, cumulative_us, name_field = line.removeprefix("import time:").split("|", 2)
        depth = (len(name_field) - len(name_field.lstrip()) - 1) // 2
        return name_field.strip(), int(self_us), int(cumulative_us), depth
    except ValueError:
        return None
