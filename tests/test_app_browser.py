"""End to end: ``ketasim app`` in a subprocess, driven by Playwright in headless Chromium.

Uses the system's chromium (Debian package ``chromium``), never a browser downloaded by Playwright.
Without chromium, playwright or panel the test is skipped, unless the environment variable ``CI`` is
set: there it fails, so a CI machine that lost its browser cannot pass silently.
"""

from __future__ import annotations

import importlib.util
import os
import queue
import re
import shutil
import socket
import subprocess
import sys
import threading
import time

import pytest

from ketasim.app import compute

READY_TIMEOUT_S = 60.0  # generous for a loaded machine; about 3 s on an idle one
RECOMPUTE_TIMEOUT_MS = 30_000


def _missing() -> list[str]:
    out = [] if shutil.which("chromium") else ["chromium (apt-get install chromium)"]
    out += [m for m in ("playwright", "panel") if importlib.util.find_spec(m) is None]
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_serving(proc: subprocess.Popen, lines: queue.Queue) -> str:
    """The URL the app prints on stderr once it listens (bounded wait; the app's own warm-up included)."""
    seen = []
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"ketasim app exited with status {proc.returncode}: {''.join(seen)}"
                ) from None
            continue
        seen.append(line)
        match = re.search(r"serving on (http://\S+)", line)
        if match:
            return match.group(1)
    raise TimeoutError(f"ketasim app did not start within {READY_TIMEOUT_S:g} s: {''.join(seen)}")


@pytest.fixture(scope="module")
def app_url():
    missing = _missing()
    if missing:
        message = "browser test needs " + ", ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(message + " (required when CI is set)")
        pytest.skip(message)
    port = _free_port()
    cmd = [
        sys.executable,
        "-c",
        "import sys; from ketasim.cli import main; sys.exit(main())",
        "app",
        "--port",
        str(port),
        "--no-browser",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stderr], daemon=True).start()
    try:
        url = _wait_until_serving(proc, lines)
        assert url == f"http://127.0.0.1:{port}/"  # loopback unless --host says otherwise
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def page(app_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(app_url)
            yield page
        finally:
            browser.close()


def _peak_after_run(page, run: int) -> float:
    """The plotted peak plasma concentration once recompute number ``run`` is on the page."""
    from playwright.sync_api import expect

    readout = page.locator("#peak-readout")
    expect(readout).to_have_attribute("data-run", str(run), timeout=RECOMPUTE_TIMEOUT_MS)
    return float(readout.get_attribute("data-peak-ng-ml"))


def _set_dose(page, value: str) -> None:
    dose = page.locator(".ctl-dose input")
    dose.fill(value)
    dose.press("Enter")


def test_changing_the_dose_changes_the_plotted_peak(page):
    from playwright.sync_api import expect

    first = _peak_after_run(page, 1)
    # the page shows what the computation layer gives for the default controls
    assert first == pytest.approx(compute.simulate({}).peak_plasma_ng_ml, rel=1e-4)

    _set_dose(page, "1.0")  # default 0.5 mg/kg: double it; the PK is linear
    doubled = _peak_after_run(page, 2)
    assert doubled / first == pytest.approx(2.0, rel=0.02)

    _set_dose(page, "0.25")  # and down again: half the default
    halved = _peak_after_run(page, 3)
    assert halved / first == pytest.approx(0.5, rel=0.02)
    expect(page.locator(".peak-readout")).to_contain_text("ng/mL")

    _set_dose(page, "0")  # a bad value: a message in the page, the last result stays
    expect(page.locator("#app-error")).to_contain_text("dose", timeout=RECOMPUTE_TIMEOUT_MS)
    assert page.locator("#peak-readout").get_attribute("data-run") == "3"
