"""What ``ketasim simulate`` prints and writes: the JSON document, tidy tables, provenance and a plot."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ketasim import __version__
from ketasim.errors import KetasimError
from ketasim.model import run_arm, series
from ketasim.provenance import git_revision, result_provenance
from ketasim.scenario import Arm, Scenario, to_toml


def simulate_document(
    scenario: Scenario, arm: Arm, mechanisms: frozenset[str] | None = None
) -> tuple[dict, xr.Dataset]:
    """``{"species", "times_h", "series": {NAME: [...]}}`` for the typical subject of ``arm``.

    Also records the scenario (name and hash), arm, switches, perturbations, version, git revision and
    parameter hash."""
    ds = run_arm(scenario, arm, mechanisms=mechanisms)
    doc = {
        "species": scenario.species,
        "scenario": scenario.name,
        "arm": arm.name,
        "condition": scenario.condition,
        "mechanisms": sorted(ds.attrs["mechanisms"].split(",")) if ds.attrs["mechanisms"] else [],
        "perturbations": list(arm.perturbations),
        "ketasim_version": __version__,
        "git_revision": git_revision(),
        "scenario_hash": scenario.digest(),
        "seed": None,  # the typical subject: nothing is drawn
        "parameter_hash": ds.attrs["parameter_hash"],
        "times_h": [float(x) for x in ds.time.values],
        "series": series(ds),
    }
    return doc, ds


def write_outputs(
    scenario: Scenario, out: str | Path, mechanisms: frozenset[str] | None = None
) -> list[Path]:
    """For every arm: ``ARM_series.csv`` (tidy: time_h, name, value) and ``ARM.png``; plus
    ``scenario.toml`` and ``provenance.json`` for the run (version, git revision, the scenario and its
    hash, and each arm's parameter hash and parameters)."""
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise KetasimError(f"cannot create directory '{out}' ({exc.strerror})", argument="--out") from None
    paths = []
    provenance = {
        **result_provenance(scenario.name, scenario.digest(), None),
        "scenario": scenario.record(),  # the whole scenario (its name is scenario.name)
        "arms": {},
    }
    for arm in scenario.arms:
        doc, ds = simulate_document(scenario, arm, mechanisms)
        t = np.asarray(doc["times_h"])
        frame = pd.concat(
            [pd.DataFrame({"time_h": t, "name": k, "value": v}) for k, v in doc["series"].items()],
            ignore_index=True,
        )
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in arm.name)
        csv = out / f"{safe}_series.csv"
        frame.to_csv(csv, index=False)
        png = out / f"{safe}.png"
        plot_cascade(doc, png)
        paths += [csv, png]
        provenance["arms"][arm.name] = {
            "parameter_hash": doc["parameter_hash"],
            "mechanisms": doc["mechanisms"],
            "perturbations": doc["perturbations"],
            "parameters": json.loads(ds.attrs["downstream_sources"]),
        }
    (out / "scenario.toml").write_text(to_toml(scenario))
    (out / "provenance.json").write_text(json.dumps(provenance, indent=1))
    return [*paths, out / "scenario.toml", out / "provenance.json"]


PANELS = (
    ("Exposure and block", ("brain_ketamine_um", "nmda_block_pyramidal", "nmda_block_interneuron")),
    ("Circuit", ("glutamate", "resting_nmda_ca")),
    ("Signalling", ("p_eef2", "bdnf", "mtorc1")),
    ("Synapses", ("synaptic_protein", "surface_ampa", "spine_density")),
)


def plot_cascade(doc: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = np.asarray(doc["times_h"])
    fig, axes = plt.subplots(len(PANELS), 1, figsize=(7, 9), sharex=True)
    for ax, (title, names) in zip(axes, PANELS, strict=True):
        for n in names:
            ax.plot(t, doc["series"][n], label=n)
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7, loc="upper right")
        ax.set_xscale("symlog", linthresh=1.0)
    axes[-1].set_xlabel("time (h)")
    fig.suptitle(f"{doc['scenario']}: {doc['arm']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
