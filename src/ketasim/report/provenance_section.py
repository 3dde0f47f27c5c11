"""The report's provenance: what was run (version, scenario and its TOML text, seed, sizes, switches,
parameter hashes) and every parameter behind it with its unit, status and source, grouped by citation."""

from __future__ import annotations

import html
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RunRecord:
    """Everything the provenance section states about a report's run."""

    version: str
    scenario_name: str
    scenario_toml: str
    seed: int
    n_per_arm: int
    n_detail: int
    mechanisms: list[str]
    parameter_hashes: dict[str, str]  # arm -> hash of the arm's model parameters (PK and downstream)
    clinical_hash: str
    population: str
    parameters: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # scale -> records

    def as_dict(self) -> dict[str, Any]:
        return {
            "ketasim_version": self.version,
            "scenario": self.scenario_name,
            "scenario_toml": self.scenario_toml,
            "seed": self.seed,
            "n_per_arm": self.n_per_arm,
            "n_detailed_per_arm": self.n_detail,
            "mechanisms": self.mechanisms,
            "parameter_hash": self.parameter_hashes,
            "clinical_parameter_hash": self.clinical_hash,
            "population": self.population,
            "parameters": self.parameters,
        }


def citations(parameters: dict[str, list[dict[str, Any]]]) -> list[tuple[str, int, str]]:
    """Distinct sources, most used first: (source, number of parameters, statuses with counts)."""
    count: Counter[str] = Counter()
    statuses: dict[str, Counter[str]] = defaultdict(Counter)
    for records in parameters.values():
        for r in records:
            count[r["source"]] += 1
            statuses[r["source"]][r["status"]] += 1
    return [
        (src, n, ", ".join(f"{k} {v}" for k, v in sorted(statuses[src].items())))
        for src, n in sorted(count.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def _e(x: Any) -> str:
    return html.escape(str(x))


def _parameter_rows(parameters: dict[str, list[dict[str, Any]]]) -> str:
    rows = []
    for scale, records in parameters.items():
        for r in records:
            value = r["value"]
            shown = f"{value:.4g}" if isinstance(value, int | float) else _e(value)
            calib = f" (fitted to: {_e(r['calibration'])})" if r.get("calibration") else ""
            rows.append(
                f"<tr><td>{_e(scale)}</td><td>{_e(r['name'])}</td><td>{shown}</td><td>{_e(r['unit'])}</td>"
                f"<td>{_e(r['status'])}</td><td>{_e(r['source'])}{calib}</td></tr>"
            )
    return "".join(rows)


def provenance_html(run: RunRecord) -> str:
    """The ``<section id='provenance'>`` of the report."""
    hashes = "".join(
        f"<tr><td>{_e(arm)}</td><td><code>{_e(h)}</code></td></tr>" for arm, h in run.parameter_hashes.items()
    )
    n_params = sum(len(r) for r in run.parameters.values())
    cites = "".join(
        f"<li>{_e(src)} <small>({n} parameter{'s' if n != 1 else ''}: {_e(st)})</small></li>"
        for src, n, st in citations(run.parameters)
    )
    scales = ", ".join(f"{_e(k)} {len(v)}" for k, v in run.parameters.items())
    return (
        "<section id='provenance'><h2>Provenance</h2>"
        "<table class='kv'>"
        f"<tr><th>ketasim version</th><td>{_e(run.version)}</td></tr>"
        f"<tr><th>scenario</th><td>{_e(run.scenario_name)}</td></tr>"
        f"<tr><th>population</th><td>{_e(run.population)}</td></tr>"
        f"<tr><th>patients per arm</th><td>{run.n_per_arm} (detailed model: {run.n_detail})</td></tr>"
        f"<tr><th>seed</th><td>{run.seed}</td></tr>"
        f"<tr><th>mechanisms on</th><td>{_e(', '.join(run.mechanisms) or 'none')}</td></tr>"
        f"<tr><th>clinical parameter hash</th><td><code>{_e(run.clinical_hash)}</code></td></tr>"
        "</table>"
        "<h3>Parameter hash per arm</h3><p>A digest of every PK and downstream parameter value, unit and "
        "status the arm used; equal hashes mean equal parameters.</p>"
        f"<table class='kv'><tr><th>arm</th><th>parameter hash</th></tr>{hashes}</table>"
        "<h3>Scenario file</h3>"
        f"<pre class='toml'>{_e(run.scenario_toml)}</pre>"
        f"<h3>Citations ({n_params} parameters: {scales})</h3><ol class='cites'>{cites}</ol>"
        "<details><summary>Every parameter with value, unit, status and source</summary>"
        "<table class='params'><tr><th>scale</th><th>parameter</th><th>value</th><th>unit</th><th>status</th>"
        f"<th>source</th></tr>{_parameter_rows(run.parameters)}</table></details>"
        "</section>"
    )
