"""Each lesson's solution notebook, run in a real browser as a learner runs it: `make lab`, then
Run All Cells in headless Chromium (driven by Playwright) and save. The saved notebook must have
run every cell without an error, drawn its figures and backed its claims; in the page, every
widget must render, and moving a widget's slider must redraw its figure.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import time
from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import sync_playwright

from course_helpers import LESSONS, ROOT, LabServer, assert_claims_hold

#: the notebooks run here are copies in a folder of the served root (ignored by git)
SCRATCH = ROOT / ".browser-tests"

#: no wait depends on the machine's speed: this cap only keeps a broken run from hanging forever
WAIT = 15 * 60

#: the kernel must be idle this many polls in a row, a second apart, before the run counts as
#: finished (between two queued cells it is idle for an instant)
IDLE_POLLS = 5


def wait_for(condition, what: str, every: float = 0.5) -> None:
    """Call ``condition`` every ``every`` seconds until it returns true; fail after ``WAIT``."""
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {WAIT // 60} min waiting for {what}", pytrace=False)
        time.sleep(every)


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium: the system's, since Playwright's own download needs the internet.
    None if it is not installed (the test then fails and says how to install it)."""
    executable = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(executable).exists():
        yield None
        return
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab as an instructor starts it, `make lab AUTOGRADER=1`: its kernels find the
    instructor's grading package (autograder/, not installed) for the hidden tests, draw
    figures inline and run as a learner's, not as the autograder's; hidden folders are
    served so that the scratch copies can be opened."""
    server = LabServer(
        tmp_path_factory.mktemp("lab"),
        env={"MPLBACKEND": None, "NBGRADER_EXECUTION": None},
        make_args=("AUTOGRADER=1",),
        lab_args="--ContentsManager.allow_hidden=True",
    )
    try:
        status = server.wait_until_serving(timeout=WAIT)
        assert status is not None and status.status_code == 200, f"make lab did not serve:\n{server.log_tail()}"
        yield server
    finally:
        server.stop()


@pytest.fixture
def notebook(lesson):
    """A copy of the lesson's solution notebook in a fresh folder under ``SCRATCH``, removed
    afterwards (the committed notebook is never run or saved)."""
    folder = SCRATCH / f"{lesson.name}-{secrets.token_hex(4)}"
    folder.mkdir(parents=True)
    try:
        yield Path(shutil.copy(lesson.source, folder))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        with contextlib.suppress(OSError):  # another test may still be using it
            SCRATCH.rmdir()


def session_of(lab, notebook: Path) -> dict | None:
    """The server's session (with its kernel) for ``notebook``, if there is one."""
    path = notebook.relative_to(ROOT).as_posix()
    return next((s for s in lab.get("/api/sessions").json() if s["path"] == path), None)


def kernel_state(lab, kernel_id: str) -> str:
    return lab.get(f"/api/kernels/{kernel_id}").json()["execution_state"]


def page_shows_kernel_idle(page, notebook: Path) -> bool:
    """The status bar reads 'Python 3 (ipykernel) | Idle' for the notebook."""
    status = page.get_by_title(f"Change kernel for {notebook.name}")
    return status.count() == 1 and status.inner_text().endswith("| Idle")


def open_notebook(page, lab, notebook: Path) -> None:
    """Open the notebook and wait until the page shows its kernel idle (choosing the kernel if
    a dialog asks for one)."""
    page.goto(f"{lab.url}/lab/tree/{notebook.relative_to(ROOT).as_posix()}?token={lab.token}")

    def kernel_ready():
        dialog = page.locator(".jp-Dialog").filter(has_text="Select Kernel")
        if dialog.count():
            dialog.locator(".jp-mod-accept").click()
        return page_shows_kernel_idle(page, notebook)

    wait_for(kernel_ready, "the notebook to open with its kernel idle in the status bar")


def run_all_cells(page) -> None:
    page.locator(".lm-MenuBar-itemLabel").get_by_text("Run", exact=True).click()
    page.locator(".lm-Menu-itemLabel").get_by_text("Run All Cells", exact=True).click()


def wait_until_cells_ran(lab, kernel_id: str) -> None:
    """Wait until the kernel has been busy and then stays idle (JupyterLab renders cells lazily,
    so the page is no measure of progress; the server's kernel state is)."""
    wait_for(lambda: kernel_state(lab, kernel_id) == "busy", "the kernel to start running the cells", every=0.1)
    polls = []

    def idle_for_a_while():
        polls.append(kernel_state(lab, kernel_id) == "idle")
        return polls[-IDLE_POLLS:] == [True] * IDLE_POLLS

    wait_for(idle_for_a_while, f"the kernel to finish running the cells (idle {IDLE_POLLS} polls in a row)", every=1)


def save(page, notebook: Path):
    """Save the notebook (Ctrl+S) once the page, too, has seen the kernel go idle (so it holds
    every output); return the saved file once it is on disk with outputs."""
    wait_for(lambda: page_shows_kernel_idle(page, notebook), "the page to show the kernel idle before saving")
    before = notebook.stat().st_mtime_ns
    page.keyboard.press("Control+s")

    def saved_with_outputs():
        if notebook.stat().st_mtime_ns == before:
            return False
        nb = nbformat.read(notebook, as_version=4)
        return any(c.get("outputs") for c in nb.cells if c.cell_type == "code")

    wait_for(saved_with_outputs, f"{notebook.name} to be saved with its outputs (Ctrl+S)")
    return nbformat.read(notebook, as_version=4)


def assert_ran_cleanly(nb) -> None:
    """Every code cell ran, none raised, and at least one drew a figure."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    errors = {c.id: f"{o.ename}: {o.evalue}" for c in code for o in c.outputs if o.output_type == "error"}
    assert errors == {}, f"these cells raised: {errors}"
    not_run = [c.id for c in code if c.execution_count is None]
    assert not_run == [], f"these cells did not run: {not_run}"
    figures = [c.id for c in code if any("image/png" in o.get("data", {}) for o in c.outputs)]
    assert figures, "no cell drew a figure (an image/png output)"


def assert_widgets_render(page) -> None:
    """Scroll every output into view (JupyterLab renders lazily); then no widget may still be
    loading or have failed to display."""
    outputs = page.locator(".jp-Notebook .jp-OutputArea-output")
    for i in range(outputs.count()):
        outputs.nth(i).scroll_into_view_if_needed()
    wait_for(lambda: page.get_by_text("Loading widget...").count() == 0, "every widget to finish loading")
    assert page.get_by_text("Error displaying widget").count() == 0, "a widget did not display"
    assert page.locator(".jp-Notebook .jupyter-widgets").count() > 0, "no widget in the notebook"


def assert_slider_redraws_figure(page) -> None:
    """The first widget with a slider: moving its first slider to the end (End on the focused
    handle) redraws the widget's figure, a new image (``src``)."""
    widget = page.locator(".jp-Notebook .jp-OutputArea-output").filter(has=page.locator(".widget-slider")).first
    widget.scroll_into_view_if_needed()
    slider = widget.locator(".widget-slider").first
    readout, figure = slider.locator(".widget-readout"), widget.locator("img").first
    value, before = readout.inner_text(), figure.get_attribute("src")
    slider.locator(".noUi-handle").focus()
    page.keyboard.press("End")
    wait_for(lambda: readout.inner_text() != value, f"the slider to move from {value} (End on its handle)")
    wait_for(
        lambda: figure.get_attribute("src") != before,
        f"the widget's figure to be redrawn after its slider moved from {value} to {readout.inner_text()}",
    )


@pytest.mark.slow
@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.name)
def test_solution_notebook_runs_in_the_browser(lesson, browser, lab, notebook):
    if browser is None:
        pytest.fail(
            "Chromium is not installed: run `apt-get install chromium` (or `make test`, which installs it)",
            pytrace=False,
        )
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(WAIT * 1000)
    page = context.new_page()
    try:
        open_notebook(page, lab, notebook)
        kernel_id = session_of(lab, notebook)["kernel"]["id"]
        run_all_cells(page)
        wait_until_cells_ran(lab, kernel_id)
        nb = save(page, notebook)
        assert_ran_cleanly(nb)
        assert_claims_hold(lesson, nb)
        assert_widgets_render(page)
        assert_slider_redraws_figure(page)
    finally:
        context.close()
        session = session_of(lab, notebook)
        if session:
            lab.delete(f"/api/sessions/{session['id']}", timeout=WAIT)  # shuts its kernel down
