"""The methods document (``docs/methods.md``), generated from the code and the packaged data.

Run from the repository root::

    python -m ketasim.methods_doc              # writes docs/methods.md
    python -m ketasim.methods_doc --out FILE   # somewhere else

For each scale the document lists its states, its equations (the ``EQUATIONS`` constant of the
module that implements them, each with its meaning, source and the function that computes it), its
parameters (the tables of :mod:`ketasim.docs_gen`: value, unit, status, source and, for fitted
values, the calibration data), assumptions and known limitations; then the hypothesis switches
(``data/mechanisms.toml``) and what each changes, and the perturbations (``data/perturbations.toml``)
and the parameters each replaces. A test regenerates the file and compares it with the committed
one, and checks several equations numerically against the functions they describe, so the document
cannot drift from the model.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ketasim import mechanisms, perturbations
from ketasim.docs_gen import DATA, file_section, packaged_library
from ketasim.model_assembly import ROUTE_TARGETS, base_cascade
from ketasim.parameter_sets import packaged
from ketasim.signalling import cascade

EQUATION_KEYS = ("name", "latex", "meaning", "source", "code")


@dataclass(frozen=True)
class Scale:
    """One scale of the model as the methods document presents it."""

    title: str
    summary: str
    modules: tuple[str, ...]  # modules (under ketasim.) whose EQUATIONS belong to this scale
    states: tuple[tuple[str, str], ...]  # (state, meaning)
    data: tuple[str, ...]  # data file patterns under data/ holding its parameters
    assumptions: tuple[str, ...]
    limitations: tuple[str, ...]


def _cascade_states() -> tuple[tuple[str, str], ...]:
    """(state, meaning) of the signalling cascade, read from the table in its module docstring."""
    meanings = {}
    for line in (cascade.__doc__ or "").splitlines():
        name, _, rest = line.strip().partition(" ")
        if name in cascade.STATES and rest.strip():
            meanings[name] = rest.strip()
    return tuple(
        (s, meanings.get(s, "")) for s in cascade.STATES if s not in ("spine_density", "persistent_spines")
    )


def scales() -> tuple[Scale, ...]:
    """The scales in the order the model passes quantities down."""
    return (
        Scale(
            "Dosing and pharmacokinetics",
            "Doses by route enter a linear compartmental model of each species (each enantiomer of the "
            "parent and of its metabolites), linked by metabolism; hepatic pathways use a well-stirred "
            "liver, so first-pass availability is an output.",
            ("pk.model",),
            (
                ("central", "amount in plasma and well-perfused tissue (µmol), one per species"),
                ("periph1, periph2", "amounts in up to two peripheral compartments (µmol)"),
                ("gut, nasal, mucosa, muscle, peritoneum", "absorption depots of the routes in use (µmol)"),
                ("eliminated, unabsorbed", "sinks that close the mass balance (µmol)"),
            ),
            ("physiology.toml", "physiology_mouse.toml", "physiology_rat.toml"),
            (
                "Linear kinetics at clinical doses (no saturable metabolism or binding).",
                "Drug-specific values (volumes, clearances by enzyme, absorption) are in each compound file; "
                "see the model cards.",
                "CYP2B6 genotype, inhibitors and inducers act on intrinsic clearance only.",
            ),
            (
                "No enterohepatic recycling and no time-varying physiology (e.g. haemodynamic effects of the "
                "drug on hepatic blood flow).",
                "Between-patient variability of PK comes from covariates (weight, genotype); no random "
                "effects on individual PK parameters beyond those in the population file.",
            ),
        ),
        Scale(
            "Brain and cell",
            "Unbound plasma drug exchanges with brain extracellular fluid, cytosol and lysosomes by passive "
            "diffusion of the neutral species (pH partition).",
            ("brain.partition",),
            (
                ("brain_ecf", "concentration in brain extracellular fluid (µM), one per species"),
                ("cytosol", "concentration in neuronal cytosol (µM)"),
                ("lysosome", "concentration in lysosomes (µM)"),
            ),
            (),
            (
                "Only the neutral species crosses membranes; compartment pH and exchange rates are in the "
                "physiology files (above).",
                "Brain concentrations are driven by plasma and draw no mass from it (brain is part of the "
                "systemic volumes).",
            ),
            (
                "Lipid and phospholipid binding are neglected, so lysosomal accumulation is an upper bound.",
                "No active transport at the blood-brain barrier; a permanent cation never enters cells.",
            ),
        ),
        Scale(
            "Targets: NMDA receptor block",
            "Each pore blocker (parent and metabolites compete for one site) blocks each receptor population "
            "(cell type x GluN2 subunit) by a two-state equation whose rates come, per glutamate release "
            "period, from the detailed kinetic receptor model with Mg2+ block, trapping and membrane access; "
            "GluN2B negative allosteric modulators act at equilibrium.",
            ("targets.nmda_reduced", "targets.patient_block"),
            (
                ("b_{c,s,i}", "fraction of receptors of cell type c and subunit s blocked by species i"),
                ("nmda_block", "fraction of a cell type's NMDA receptors blocked (output)"),
                ("nam_inhibition", "fraction of a subunit's current removed by modulators (output)"),
            ),
            ("targets.toml", "nmda_receptors.toml", "cell_types.toml"),
            (
                "Drug binding is slow compared with gating, so gating and Mg2+ are averaged (time-scale "
                "separation); the reduced steady state is tested against the detailed periodic steady state.",
                "Unliganded receptors hold no Mg2+; blocked channels gate like unblocked ones (trapping).",
                "Cell types differ by activity, membrane potential and subunit make-up only.",
            ),
            (
                "Activity, membrane potential and Mg2+ of each cell type are fixed; the block does not feed "
                "back on the firing that sets the rates.",
                "Occupancy of other targets (opioid, sigma-1, transporters, ...) is taken at equilibrium.",
            ),
        ),
        Scale(
            "Circuit",
            "A threshold-linear rate model of prefrontal pyramidal cells and PV and SST interneurons, taken "
            "at its fixed point for the NMDA conductance available at each moment.",
            ("circuit.network",),
            (
                (
                    "r_E, r_P, r_S",
                    "firing of pyramidal, PV and SST populations relative to drug-free (quasi-"
                    "steady, not integrated)",
                ),
                ("glutamate", "release relative to drug-free (output)"),
            ),
            ("circuit.toml",),
            (
                "Population firing settles within tens of ms, far faster than drug levels change.",
                "Lifelong deletions are compensated by homeostatic scaling of the non-NMDA drive.",
            ),
            (
                "Three populations and no spatial structure, oscillations or layers; the gamma-power output "
                "is a proxy (AMPA drive of PV cells).",
            ),
        ),
        Scale(
            "Coupling between scales",
            "The functions that turn block into conductance, occupancy into cascade inputs, and apply the "
            "hypothesis switches (ketasim.model_assembly).",
            ("model_assembly",),
            (),
            (),
            ("A switch that is off holds its cascade input at the drug-free value; nothing else changes.",),
            (),
        ),
        Scale(
            "Signalling",
            "A reduced eEF2K/BDNF/TrkB/mTORC1/GSK3 cascade of prefrontal pyramidal neurons: each enzyme "
            "cycle of Jain & Bhalla 2009 relaxes first-order to the steady state its inputs set. States are "
            "relative to the drug-free wild-type baseline unless stated.",
            ("signalling.cascade",),
            _cascade_states(),
            ("signalling.toml",),
            (
                "Every patient starts at its drug-free steady state (genotype and chronic perturbations "
                "included).",
                "Route gains without a measured size are 0.3 of the baseline drive (mechanisms.toml).",
            ),
            (
                "Many rates are assumed from time courses in rodents; the cascade has no "
                "compartmentalisation beyond dendrite and synapse.",
            ),
        ),
        Scale(
            "Structure: spines",
            "Spine density of prefrontal pyramidal neurons follows formation, which answers the "
            "delivery of new synaptic protein above its adapted level, and elimination; new spines "
            "are lost within days unless they become persistent.",
            ("structure.spines",),
            (
                ("spine_density", "dendritic spines relative to the healthy adult"),
                (
                    "persistent_spines",
                    "part of the density carried by persistent spines; the rest is new spines",
                ),
            ),
            ("spines.toml",),
            (
                "Ketamine raises formation, not elimination; lifelong differences are compensated "
                "(homeostatic plasticity), acute inhibitors are not.",
            ),
            (
                "One density for all prefrontal pyramidal cells; two ages of spine (new, persistent), "
                "no spine types or sizes.",
            ),
        ),
        Scale(
            "Clinical",
            "MADRS from prefrontal synaptic strength with a placebo response, dissociation (CADSS) and "
            "systolic blood pressure from pyramidal NMDA block, in a sampled population of patients.",
            ("clinical.scores",),
            (
                ("mood effect site", "lagged synaptic strength (effect compartment)"),
                ("block effect site", "lagged pyramidal NMDA block, driving CADSS and blood pressure"),
                ("MADRS, CADSS, systolic rise", "outputs per patient and time"),
            ),
            ("clinical.toml", "populations/*.toml"),
            (
                "The mood gain and placebo sizes are calibrated to Murrough 2013 at 24 h only; every other "
                "clinical observation is validation.",
                "Placebo and drug effects multiply.",
            ),
            (
                "Response keeps rising to day 3 and lasts beyond two weeks, where the seed review reports "
                "about 35% at 72 h and relapse within ~2 weeks; onset at 4 h is lower than the ~50% reported "
                "(see docs/validation/findings.md).",
                "No tolerance, no repeated-dosing adaptation beyond what the cascade produces.",
            ),
        ),
    )


def equations(module: str) -> tuple[dict[str, str], ...]:
    """The ``EQUATIONS`` of ``ketasim.<module>``."""
    return importlib.import_module(f"ketasim.{module}").EQUATIONS


def resolve(dotted: str) -> object:
    """The object a dotted path (``ketasim.pkg.mod.func`` or ``...mod.Class.method``) names."""
    parts = dotted.split(".")
    for i in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


def check_equations() -> list[str]:
    """Problems with the ``EQUATIONS`` of every scale (missing keys, empty text, unknown code)."""
    problems = []
    for scale in scales():
        for module in scale.modules:
            for eq in equations(module):
                where = f"ketasim.{module}: {eq.get('name', '?')}"
                missing = [k for k in EQUATION_KEYS if not str(eq.get(k, "")).strip()]
                if missing:
                    problems.append(f"{where}: missing {', '.join(missing)}")
                    continue
                try:
                    resolve(eq["code"])
                except (ImportError, AttributeError):
                    problems.append(f"{where}: code {eq['code']} does not exist")
    return problems


def _cell(text: object) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _text(text: str) -> str:
    """Plain text for Markdown: asterisks (file patterns) would start emphasis."""
    return " ".join(text.split()).replace("*", "\\*")


def _equation_lines(eq: dict[str, str]) -> list[str]:
    return [
        f"**{eq['name']}.** {_text(eq['meaning'])}",
        "",
        "$$",
        eq["latex"],
        "$$",
        "",
        f"*Source:* {_text(eq['source'])}. *Code:* `{eq['code']}`.",
        "",
    ]


def _scale_section(number: int, scale: Scale) -> list[str]:
    lines = [f"## {number}. {scale.title}", "", scale.summary, ""]
    if scale.states:
        lines += ["### States", "", "| State | Meaning |", "|---|---|"]
        lines += [f"| `{name}` | {_cell(meaning)} |" for name, meaning in scale.states]
        lines.append("")
    lines += ["### Equations", ""]
    for module in scale.modules:
        for eq in equations(module):
            lines += _equation_lines(eq)
    if scale.data:
        lines += ["### Parameters", ""]
        for pattern in scale.data:
            for path in sorted(DATA.glob(pattern)):
                lines += file_section(path, DATA, level=4)
    if scale.assumptions:
        lines += ["### Assumptions", "", *[f"- {a}" for a in scale.assumptions], ""]
    if scale.limitations:
        lines += ["### Known limitations", "", *[f"- {a}" for a in scale.limitations], ""]
    return lines


def _compound_lines() -> list[str]:
    lib = packaged_library()
    links = ", ".join(f"[{lib.get(cid).name}](cards/{cid}.md)" for cid in lib.names())
    return [
        "Drug-specific parameters (physicochemistry, PK by species, absorption by route, brain exchange, "
        "NMDA block and other targets) are in one file per compound (`data/compounds/*.toml`); each has a "
        f"model card: {links}. All of them are also listed in [Parameters](parameters.md).",
        "",
    ]


# What each switch changes: the cascade input it drives (the others come from ROUTE_TARGETS).
CORE_SWITCHES = {
    "resting_nmda": (
        "u_ca",
        "resting NMDA Ca2+ follows the NMDA conductance available to pyramidal cells, g_pyr",
    ),
    "disinhibition": (
        "u_ampa",
        "AMPA activation follows glutamate release rho r_E from the circuit fixed point",
    ),
    "hnk_ampa": (
        "u_ampa",
        "AMPA activation is multiplied by (1 + pi), pi the AMPA potentiation by brain ECF drug",
    ),
}


def switch_effects() -> dict[str, tuple[str, str]]:
    """Mechanism switch -> (cascade input, what the switch makes it follow)."""
    out = dict(CORE_SWITCHES)
    for cascade_input, (target, variable, switch) in ROUTE_TARGETS.items():
        out[switch] = (f"u_{cascade_input}", f"occupancy of target `{target}` by drug in the {variable}")
    return out


def _mechanism_lines() -> list[str]:
    effects = switch_effects()
    gains = mechanisms.route_params()
    lines = [
        "## Hypothesis switches",
        "",
        "Each competing hypothesis of the seed reviews is a switch (`data/mechanisms.toml`, "
        "`ketasim.mechanisms`) that connects one route from drug exposure into the signalling cascade. "
        "Switched off, the route's cascade input keeps its drug-free value and nothing else in the model "
        "changes. Scenarios set them in `[mechanisms]`; the CLI takes `--mechanisms NAMES|all|none`.",
        "",
        "| Switch | Default | Hypothesis | Cascade input | When on, the input follows | Route gains |",
        "|---|---|---|---|---|---|",
    ]
    for name, m in mechanisms.catalogue().items():
        cascade_input, follows = effects[name]
        own = [k for k in gains.params if k.startswith(f"mechanism.{name}.params.")]
        gain_text = "<br>".join(f"`{k.rsplit('.', 1)[1]}` = {gains[k]:g}" for k in own) or "-"
        lines.append(
            f"| `{name}` | {'on' if m.default else 'off'} | {_cell(m.label)} | `{cascade_input}` | "
            f"{_cell(follows)} | {gain_text} |"
        )
    lines += ["", *file_section(DATA / "mechanisms.toml", DATA, level=3)]
    return lines


def _perturbation_lines() -> list[str]:
    cas, circ = base_cascade(), packaged("circuit")
    lines = [
        "## Perturbations",
        "",
        "Knockouts, knock-ins and co-drugs are data (`data/perturbations.toml`, `ketasim.perturbations`): "
        "each replaces parameter values of the cascade or the circuit, or multiplies NMDA receptor "
        "expression of `cell.subunit` (`*`: every cell type with that subunit). Knockouts and knock-ins "
        "are chronic: the spines' reference level includes them (homeostasis); co-drugs are acute.",
        "",
        "| Perturbation | Kind | Change (default -> perturbed) | Source |",
        "|---|---|---|---|",
    ]
    for name, p in perturbations.catalogue().items():
        changes, sources = [], []
        for key, param in p.set.items():
            changes.append(f"`{key}`: {cas[key]:g} -> {param.value:g}")
            sources.append(param.source)
        for key, param in p.circuit.items():
            changes.append(f"circuit `{key}`: {circ[key]:g} -> {param.value:g}")
            sources.append(param.source)
        for key, param in p.expression.items():
            changes.append(f"NMDA expression `{key}` x {param.value:g}")
            sources.append(param.source)
        lines.append(
            f"| `{name}`: {_cell(p.label)} | {p.kind} | {'<br>'.join(changes)} | "
            f"{'<br>'.join(_cell(s) for s in dict.fromkeys(sources))} |"
        )
    return [*lines, ""]


def methods_markdown() -> str:
    """The text of ``docs/methods.md``."""
    lines = [
        "# Methods",
        "",
        "The model from dose to depression score, scale by scale: states, equations, parameters, "
        "assumptions and known limitations; then the hypothesis switches and the perturbations. "
        "Generated by `python -m ketasim.methods_doc` from the `EQUATIONS` of each module and the packaged "
        "data files; do not edit by hand (a test fails when this file is stale, and checks several "
        "equations numerically against the code).",
        "",
        "Notation: A amounts (µmol), C concentrations (µM), V volumes (L), CL and Q clearances and flows "
        "(L/h), rates k in 1/h unless stated; [x]_+ = max(x, 0); H(x; K, n) = x^n (1 + K^n) / (x^n + K^n) "
        "is a Hill function scaled to 1 at x = 1. Parameter status: measured, derived, fitted (with the "
        "calibration data named) or assumed; see also [Parameters](parameters.md), the "
        "[calibration](calibration.md) and the design decisions (`docs/decisions/`).",
        "",
    ]
    for i, scale in enumerate(scales(), 1):
        section = _scale_section(i, scale)
        if i == 1:
            section[4:4] = _compound_lines()
        lines += section
    lines += _mechanism_lines()
    lines += _perturbation_lines()
    return "\n".join(lines).rstrip() + "\n"


def write_methods(out: str | Path) -> Path:
    """Write the methods document to ``out`` (a file path); returns it."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(methods_markdown(), encoding="utf-8")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m ketasim.methods_doc``."""
    p = argparse.ArgumentParser(prog="python -m ketasim.methods_doc", description=__doc__.splitlines()[0])
    p.add_argument("--out", default="docs/methods.md", help="output file (default: docs/methods.md)")
    args = p.parse_args(argv)
    problems = check_equations()
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    path = write_methods(args.out)
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
