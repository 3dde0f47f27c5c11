"""The app's page (Panel, served by a Bokeh server; decision: docs/decisions/0012-interactive-app.md).

Controls on the left, linked time courses on the right (one shared time axis: zooming one plot zooms
all). Every change of a control recomputes through :func:`ketasim.app.compute.simulate`; a bad value
shows its :class:`~ketasim.errors.KetasimError` message in the page and leaves the last plots in place.
Up to three regimens can be kept in comparison slots A, B and C and are drawn over the current one.

Stable hooks for tests and scripts: ``#peak-readout`` (class ``peak-readout``) carries the plotted peak
plasma concentration in ``data-peak-ng-ml`` and a recompute counter in ``data-run``; ``#app-error``
holds the error message, if any; widgets carry the CSS class ``ctl-NAME`` (e.g. ``ctl-dose``).
"""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping
from typing import Any

import panel as pn
from bokeh.models import ColumnDataSource, HoverTool, Range1d
from bokeh.plotting import figure

from ketasim import mechanisms, perturbations
from ketasim.app import compute
from ketasim.compounds import default_library
from ketasim.errors import KetasimError
from ketasim.population import available_populations
from ketasim.scenario import CONDITIONS

SLOTS = ("A", "B", "C")
WINDOWS = {"first 12 h": 12.0, "first day": 24.0, "whole horizon": None}
COLOURS = {"current": "#1f3b73", "A": "#d95f02", "B": "#1b9e77", "C": "#7570b3"}

# (field of Curves, y-axis label, has a band)
PANELS = (
    ("plasma_ng_ml", "Plasma parent (ng/mL)", True),
    ("nmda_block_pct", "NMDA block, pyramidal (%)", True),
    ("madrs", "MADRS", True),
    ("response_pct", "Responders (%)", False),
    ("cadss", "Dissociation (CADSS)", True),
    ("sbp_rise_mmhg", "Systolic BP rise (mmHg)", True),
)


def _empty() -> dict[str, list]:
    return {"t": [], "median": [], "low": [], "high": []}


def _data(curves: compute.Curves, name: str) -> dict[str, Any]:
    value = getattr(curves, name)
    if isinstance(value, compute.Band):
        return {"t": curves.times_h, "median": value.median, "low": value.low, "high": value.high}
    return {"t": curves.times_h, "median": value, "low": value, "high": value}


class Plots:
    """Six linked figures; one data source per (figure, series) so updates never rebuild a figure."""

    def __init__(self) -> None:
        self.x_range = Range1d(0.0, 168.0)
        self.sources: dict[tuple[str, str], ColumnDataSource] = {}
        self.figures = []
        for name, label, band in PANELS:
            fig = figure(
                height=230,
                sizing_mode="stretch_width",
                x_range=self.x_range,
                x_axis_label="time (h)",
                y_axis_label=label,
                tools="xpan,xwheel_zoom,box_zoom,reset,save",
                toolbar_location="above",
            )
            lines = []
            for series in ("current", *SLOTS):
                src = ColumnDataSource(_empty())
                self.sources[(name, series)] = src
                colour = COLOURS[series]
                if band:
                    alpha = 0.25 if series == "current" else 0.12
                    fig.varea("t", "low", "high", source=src, fill_color=colour, fill_alpha=alpha)
                dash = "solid" if series == "current" else "dashed"
                lines.append(
                    fig.line("t", "median", source=src, line_color=colour, line_width=2, line_dash=dash)
                )
            tips = [("t (h)", "@t{0.00}"), ("median", "@median{0.00}")]
            if band:
                tips.append(("5-95%", "@low{0.00} to @high{0.00}"))
            fig.add_tools(HoverTool(renderers=lines, tooltips=tips))
            if name == "response_pct":
                fig.y_range = Range1d(0.0, 100.0)
            self.figures.append(fig)

    def show(self, series: str, curves: compute.Curves | None) -> None:
        for name, _, _ in PANELS:
            self.sources[(name, series)].data = _empty() if curves is None else _data(curves, name)


def _readout(curves: compute.Curves | None, run: int) -> str:
    if curves is None:
        return (
            f'<div id="peak-readout" class="peak-readout" data-run="{run}" data-peak-ng-ml="">no result</div>'
        )
    peak = curves.peak_plasma_ng_ml
    return (
        f'<div id="peak-readout" class="peak-readout" data-run="{run}" data-peak-ng-ml="{peak:.6g}">'
        f"Peak plasma {html.escape(curves.compound)} (median of {curves.n}): <b>{peak:.4g} ng/mL</b></div>"
    )


def _comparison_table(current: compute.Curves | None, slots: dict[str, compute.Curves | None]) -> str:
    rows = [("current", current), *slots.items()]
    head = (
        "<tr><th></th><th>regimen</th><th>peak plasma (ng/mL)</th><th>peak block (%)</th>"
        "<th>responders 24 h (%)</th><th>peak CADSS</th><th>peak SBP rise (mmHg)</th></tr>"
    )
    body = []
    for key, curves in rows:
        swatch = f'<span style="color:{COLOURS[key]};font-weight:bold">&#9632; {key}</span>'
        if curves is None:
            body.append(f"<tr><td>{swatch}</td><td colspan='6'>(empty)</td></tr>")
            continue
        s = curves.summary()
        body.append(
            f"<tr><td>{swatch}</td><td>{html.escape(curves.label)} (n={curves.n})</td>"
            f"<td>{s['peak_plasma_ng_ml']:.4g}</td><td>{s['peak_nmda_block_pct']:.3g}</td>"
            f"<td>{s['response_24h_pct']:.0f}</td><td>{s['peak_cadss']:.3g}</td>"
            f"<td>{s['peak_sbp_rise_mmhg']:.3g}</td></tr>"
        )
    return f'<table class="comparison-table">{head}{"".join(body)}</table>'


STYLE = """
.peak-readout { font-size: 1.1em; padding: 4px 0; }
.app-error { color: #8a1c1c; background: #fde8e8; border: 1px solid #e0a0a0;
  padding: 6px; border-radius: 4px; }
.comparison-table { border-collapse: collapse; font-size: 0.9em; }
.comparison-table td, .comparison-table th {
  border-bottom: 1px solid #ddd; padding: 2px 8px; text-align: left; }
"""


class App:
    """One browser session: widgets, plots and the comparison slots (controls start at ``initial``,
    defaults :data:`ketasim.app.compute.DEFAULTS`)."""

    def __init__(self, initial: Mapping[str, Any] | None = None) -> None:
        d = compute.merged(initial)
        lib = default_library()
        self.run = 0
        self._pending = False
        self._iv_duration = d["duration_min"]
        self.current: compute.Curves | None = None
        self.slots: dict[str, compute.Curves | None] = dict.fromkeys(SLOTS)
        self.plots = Plots()

        def cls(name: str) -> list[str]:
            return [f"ctl-{name}"]

        self.w = {
            "compound": pn.widgets.Select(
                label="Compound", options=lib.names(), value=d["compound"], css_classes=cls("compound")
            ),
            "dose": pn.widgets.FloatInput(
                label="Dose", value=d["dose"], start=0.0, step=0.1, css_classes=cls("dose"), width=140
            ),
            "dose_unit": pn.widgets.Select(
                label="Unit",
                options=list(compute.DOSE_UNITS),
                value=d["dose_unit"],
                css_classes=cls("unit"),
                width=100,
            ),
            "route": pn.widgets.Select(
                label="Route", options=list(compute.ROUTES), value=d["route"], css_classes=cls("route")
            ),
            "duration_min": pn.widgets.FloatInput(
                label="Infusion duration (min, 0 = bolus)",
                value=d["duration_min"],
                start=0.0,
                step=5.0,
                css_classes=cls("duration"),
            ),
            "regimen": pn.widgets.RadioButtonGroup(
                label="Regimen",
                options=list(compute.REGIMENS),
                value=d["regimen"],
                css_classes=cls("regimen"),
            ),
            "every_h": pn.widgets.FloatInput(
                label="Every (h)",
                value=d["every_h"],
                start=0.1,
                step=12.0,
                css_classes=cls("every"),
                width=120,
            ),
            "count": pn.widgets.IntInput(
                label="Doses (N)", value=d["count"], start=1, step=1, css_classes=cls("count"), width=120
            ),
            "n": pn.widgets.IntInput(
                label="Population size", value=d["n"], start=1, step=10, css_classes=cls("n"), width=120
            ),
            "seed": pn.widgets.IntInput(
                label="Seed", value=d["seed"], start=0, css_classes=cls("seed"), width=120
            ),
            "population": pn.widgets.Select(
                label="Population",
                options=available_populations(),
                value=d["population"],
                css_classes=cls("population"),
            ),
            "condition": pn.widgets.Select(
                label="Condition",
                options=list(CONDITIONS),
                value=d["condition"],
                css_classes=cls("condition"),
            ),
            "horizon_d": pn.widgets.FloatInput(
                label="Horizon (days)", value=d["horizon_d"], start=1.0, step=1.0, css_classes=cls("horizon")
            ),
            "mechanisms": pn.widgets.CheckBoxGroup(
                label="Mechanisms",
                options={m.name: m.name for m in mechanisms.catalogue().values()},
                value=list(d["mechanisms"]),
                css_classes=cls("mechanisms"),
                inline=False,
            ),
            "perturbations": pn.widgets.MultiChoice(
                label="Perturbations (knockouts, co-drugs)",
                options=list(perturbations.NAMES),
                value=list(d["perturbations"]),
                css_classes=cls("perturbations"),
            ),
        }
        self.readout = pn.pane.HTML(_readout(None, 0), css_classes=["peak-readout-pane"], stylesheets=[STYLE])
        self.error = pn.pane.HTML("", css_classes=["app-error-pane"], visible=False, stylesheets=[STYLE])
        self.table = pn.pane.HTML(
            _comparison_table(None, self.slots), css_classes=["comparison"], stylesheets=[STYLE]
        )
        self.slot_buttons = [
            pn.widgets.Button(label=f"Keep in {s}", css_classes=[f"keep-{s}"], width=90) for s in SLOTS
        ]
        for s, b in zip(SLOTS, self.slot_buttons, strict=True):
            b.on_click(lambda _e, s=s: self.keep(s))
        self.window = pn.widgets.RadioButtonGroup(
            label="Time window", options=list(WINDOWS), value="whole horizon", css_classes=["ctl-window"]
        )
        self.window.param.watch(lambda _e: self._set_window(), "value")
        self.clear_button = pn.widgets.Button(
            label="Clear comparison", css_classes=["clear-slots"], width=140
        )
        self.clear_button.on_click(lambda _e: self.clear())
        for widget in self.w.values():
            widget.param.watch(self._changed, "value")
        self.w["compound"].param.watch(self._compound_changed, "value")
        self.w["route"].param.watch(self._route_changed, "value")
        self.w["regimen"].param.watch(self._regimen_changed, "value")
        self._regimen_changed()
        self.recompute()

    def controls(self) -> dict[str, Any]:
        """The current control values as the plain data :mod:`ketasim.app.compute` takes."""
        return {k: w.value for k, w in self.w.items()}

    def _compound_changed(self, event=None) -> None:
        """Offer only the routes the compound has absorption data for."""
        routes = compute.available_routes(self.w["compound"].value)
        if self.w["route"].value not in routes:
            self.w["route"].value = "iv"
        self.w["route"].options = routes

    def _route_changed(self, event=None) -> None:
        """Infusions are intravenous only: other routes park the duration at 0 and restore it for iv."""
        duration = self.w["duration_min"]
        if self.w["route"].value == "iv":
            duration.disabled = False
            if not duration.value:
                duration.value = self._iv_duration
        else:
            if duration.value:
                self._iv_duration = duration.value
                duration.value = 0.0
            duration.disabled = True

    def _regimen_changed(self, event=None) -> None:
        repeated = self.w["regimen"].value == "repeated"
        self.w["every_h"].visible = self.w["count"].visible = repeated

    def _changed(self, event=None) -> None:
        """Recompute once per user action: a change that changes other controls (compound -> route ->
        infusion duration) runs one simulation, on the server's next tick."""
        doc = pn.state.curdoc
        if doc is None or doc.session_context is None:
            self.recompute()
        elif not self._pending:
            self._pending = True
            doc.add_next_tick_callback(self._flush)

    def _flush(self) -> None:
        self._pending = False
        self.recompute()

    def recompute(self) -> None:
        """Simulate the current controls; a user error goes to the message area, not a traceback."""
        values = self.controls()
        try:
            if values["dose"] is None:
                raise KetasimError("no dose given", argument="dose", fix="e.g. 0.5 mg/kg")
            curves = compute.simulate(values)
        except KetasimError as exc:
            self._show_error(str(exc))
            return
        except Exception as exc:  # a failure of the model, not of the input: say so, log the traceback
            logging.getLogger(__name__).exception("simulation failed for %s", values)
            self._show_error(f"the simulation failed ({type(exc).__name__}: {exc}); please report this")
            return
        self.error.object, self.error.visible = "", False
        self.current = curves
        self.run += 1
        self.plots.show("current", curves)
        self._set_window()
        self.readout.object = _readout(curves, self.run)
        self.table.object = _comparison_table(curves, self.slots)

    def _show_error(self, message: str) -> None:
        self.error.object = (
            f'<div id="app-error" class="app-error">&#9888; {html.escape(message)}'
            "<br><small>The plots show the last valid regimen.</small></div>"
        )
        self.error.visible = True

    def _set_window(self) -> None:
        if self.current is not None:
            end = float(self.current.times_h[-1])
            self.plots.x_range.start = 0.0
            self.plots.x_range.end = min(end, WINDOWS[self.window.value] or end)

    def keep(self, slot: str) -> None:
        """Keep the current regimen in comparison slot ``slot`` (A, B or C)."""
        self.slots[slot] = self.current
        self.plots.show(slot, self.current)
        self.table.object = _comparison_table(self.current, self.slots)

    def clear(self) -> None:
        for s in SLOTS:
            self.slots[s] = None
            self.plots.show(s, None)
        self.table.object = _comparison_table(self.current, self.slots)

    def layout(self) -> pn.viewable.Viewable:
        w = self.w
        sidebar = pn.Column(
            pn.pane.Markdown("### Drug and dose"),
            w["compound"],
            pn.Row(w["dose"], w["dose_unit"]),
            w["route"],
            w["duration_min"],
            pn.pane.Markdown("### Regimen"),
            w["regimen"],
            pn.Row(w["every_h"], w["count"]),
            pn.pane.Markdown("### Population"),
            w["population"],
            pn.Row(w["n"], w["seed"]),
            w["condition"],
            w["horizon_d"],
            pn.pane.Markdown("### Mechanisms"),
            w["mechanisms"],
            pn.pane.Markdown("### Perturbations"),
            w["perturbations"],
            width=320,
            styles={"background": "#f4f5f7", "padding": "8px", "border-radius": "6px"},
        )
        grid = pn.GridBox(
            *[pn.pane.Bokeh(f, sizing_mode="stretch_width") for f in self.plots.figures],
            ncols=2,
            sizing_mode="stretch_width",
        )
        main = pn.Column(
            self.error,
            pn.Row(self.readout, pn.Spacer(width=40), self.window),
            grid,
            pn.pane.Markdown(
                "Lines: median over the virtual patients; shaded: 5-95% band. Dashed: comparison slots."
            ),
            pn.Row(*self.slot_buttons, self.clear_button),
            self.table,
            sizing_mode="stretch_width",
        )
        header = pn.pane.Markdown(
            "## ketasim: dose to depression score, interactively", styles={"color": COLOURS["current"]}
        )
        return pn.Column(
            header, pn.Row(sidebar, main, sizing_mode="stretch_width"), sizing_mode="stretch_width"
        )


def create_page() -> pn.viewable.Viewable:
    """A fresh page for one browser session (what the server calls per connection)."""
    return App().layout()
