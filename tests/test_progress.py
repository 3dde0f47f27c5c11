"""Progress bars: on standard error only, only when enabled, never mixed into --json output."""

from __future__ import annotations

import io
import json

import pytest

from ketasim import progress
from ketasim.cli import main

EXAMPLE = "examples/standard_infusion.toml"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _no_setting(monkeypatch):
    monkeypatch.delenv(progress.ENV, raising=False)


def test_forced_bar_writes_counts_to_stderr_only(monkeypatch, capsys):
    monkeypatch.setenv(progress.ENV, "1")
    assert list(progress.track(["a", "b", "c"], "steps")) == ["a", "b", "c"]
    out, err = capsys.readouterr()
    assert out == ""
    assert "steps [" in err and "3/3" in err and err.endswith("\n")


@pytest.mark.parametrize("value", ["0", "off", "false"])
def test_disabled_by_environment_even_on_a_terminal(monkeypatch, value):
    term = _Terminal()
    monkeypatch.setattr("sys.stderr", term)
    monkeypatch.setattr(progress, "DELAY_S", 0.0)
    monkeypatch.setenv(progress.ENV, value)
    assert not progress.enabled()
    for _ in progress.track(range(5), "quiet"):
        pass
    assert term.getvalue() == ""


def test_terminal_decides_when_unset(monkeypatch, capsys):
    # captured stderr is not a terminal: nothing drawn
    for _ in progress.track(range(3), "pipe"):
        pass
    assert capsys.readouterr().err == ""
    # a terminal gets the bar once the delay has passed (here at once), nested bars on one line
    term = _Terminal()
    monkeypatch.setattr("sys.stderr", term)
    monkeypatch.setattr(progress, "DELAY_S", 0.0)
    with progress.bar(2, "outer") as b:
        for _ in progress.track(range(4), "inner"):
            pass
        b.update(2)
    text = term.getvalue()
    assert "outer [" in text and "> inner [" in text and "4/4" in text and "2/2" in text
    assert text.endswith("\n") and text.count("\n") == 1
    assert not progress._stack


def test_a_note_clears_the_bar_line_and_the_bar_comes_back(monkeypatch, capsys):
    monkeypatch.setenv(progress.ENV, "1")
    with progress.bar(3, "work") as b:
        b.update()
        progress.note("wrote out.csv")
        b.update(2)
    err = capsys.readouterr().err
    before, after = err.split("wrote out.csv\n")
    assert before.endswith("\r") and "work [" in before and "3/3" in after


def test_short_steps_stay_silent_on_a_terminal(monkeypatch):
    term = _Terminal()
    monkeypatch.setattr("sys.stderr", term)
    monkeypatch.setattr(progress, "DELAY_S", 60.0)
    for _ in progress.track(range(3), "fast"):
        pass
    assert term.getvalue() == ""


def test_trial_json_stdout_is_one_document_with_progress_on(monkeypatch, capsys):
    monkeypatch.setenv(progress.ENV, "1")
    assert main(["trial", EXAMPLE, "--n", "4", "--seed", "2", "--json"]) == 0
    out, err = capsys.readouterr()
    doc = json.loads(out)  # exactly one JSON document, no progress text
    assert doc["n_per_arm"] == 4
    assert "trial arms [" in err and "3/3" in err
