"""Lesson 06 in a real browser: run its cells in JupyterLab, click Order, see the order complete, then see the
order in the live push-query widget (ksqlDB's order-status table)."""
from __future__ import annotations

import re
import time

import nbformat
import pytest

from labkit.cluster.processes import port_is_free
from labkit.config import settings as load_settings

from conftest import ARTIFACTS, ROOT  # noqa: E402  (tests/browser has no package; pytest puts it on sys.path)

LESSON = "06_pizza_pipeline.ipynb"
CELL_TIMEOUT_MS = 90_000


def _copy_without_outputs(target):
    """The lesson as a learner gets it before running it: no outputs, no execution counts."""
    notebook = nbformat.read(ROOT / "notebooks" / LESSON, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nbformat.write(notebook, target / LESSON)
    return notebook


def _index_of(notebook, text: str) -> int:
    return next(i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code" and text in cell.source)


def _run_cells_through(page, notebook, last: int) -> None:
    """Shift+Enter from the current cell through cell `last`, waiting for each code cell to finish."""
    cells = page.locator(".jp-Notebook .jp-Cell")
    for index in range(last + 1):
        cell = cells.nth(index)
        if index == 0:
            cell.locator(".jp-InputPrompt").first.click()
        page.keyboard.press("Shift+Enter")
        if notebook.cells[index].cell_type == "code":
            _wait_executed(page, cell, index)


def _wait_executed(page, cell, index: int) -> None:
    """Wait until a code cell shows an execution count ([n]), then check it printed no error."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    prompt = cell.locator(".jp-InputPrompt").first
    started = time.monotonic()
    while prompt.inner_text().strip() in ("[ ]:", ""):  # not queued: the keypress reached no kernel yet
        if time.monotonic() - started > 5:
            prompt.click()
            page.keyboard.press("Control+Enter")  # run this cell in place
            started = time.monotonic()
        page.wait_for_timeout(100)
    try:
        page.wait_for_function("el => /\\[\\d+\\]/.test(el.textContent)", arg=prompt.element_handle(),
                               timeout=CELL_TIMEOUT_MS)
    except PlaywrightTimeout:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "lesson06_failure.png"))
        raise AssertionError(f"cell {index} did not finish (prompt {prompt.inner_text()!r}); "
                             f"see {ARTIFACTS / 'lesson06_failure.png'}") from None
    _assert_no_traceback(cell, index)


def _assert_no_traceback(cell, index: int) -> None:
    stderr = cell.locator(".jp-RenderedText[data-mime-type='application/vnd.jupyter.stderr']")
    if stderr.count():
        text = stderr.first.inner_text()
        assert "Error" not in text, f"cell {index} failed:\n{text[:2000]}"


def _wait_kernel_idle(lab, timeout: float = 60.0) -> None:
    """Wait until the notebook's kernel is started and idle, as the Jupyter server reports it."""
    deadline = time.monotonic() + timeout
    while True:
        sessions = lab.api("GET", "sessions").json()
        if sessions and all(s["kernel"]["execution_state"] == "idle" for s in sessions):
            return
        assert time.monotonic() < deadline, f"the lesson's kernel was not idle within {timeout:.0f} s: {sessions}"
        time.sleep(0.3)


def _dismiss_news_toast(page) -> None:
    """Answer JupyterLab's "official Jupyter news?" question, which covers the bottom of the notebook."""
    no = page.locator(".jp-toast-button", has_text="No")
    if no.count():
        no.first.click()


@pytest.fixture
def lesson_shop(jupyterlab):
    """Checks that the lesson can open its shop; afterwards shuts the kernel down and deletes the lesson's topics."""
    import labkit
    from labkit.pizza import Pipeline, PipelineError

    settings = load_settings()
    if not port_is_free(settings.pizza_port):
        pytest.fail(f"Port {settings.pizza_port} is taken: stop the pizza shop first (`labkit pizza down`).")
    labkit.require_cluster()
    yield
    for session in jupyterlab.api("GET", "sessions").json():
        jupyterlab.api("DELETE", f"sessions/{session['id']}")
    from labkit.pizza import ksql_view

    ksql_view.drop_order_status_view()  # the lesson's ksqlDB table and stream (its clean-up cell did not run)
    deadline = time.monotonic() + 30
    while True:  # consumers leave their groups as the kernel's shop stops; then the groups can go
        try:
            Pipeline().delete_topics()
            break
        except PipelineError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def test_order_button_fills_the_progress_bar_and_the_pizza_table(jupyterlab, browser_page, artifacts,
                                                                  lesson_shop):
    notebook = _copy_without_outputs(jupyterlab.folder)
    page = browser_page
    page.goto(jupyterlab.page_url(LESSON))
    page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=60_000)
    _wait_kernel_idle(jupyterlab)

    panel_cell = _index_of(notebook, "panel = OrderPanel(shop)")
    _run_cells_through(page, notebook, panel_cell)
    panel = page.locator(".jp-Notebook .jp-Cell").nth(panel_cell)
    order_button = panel.get_by_role("button", name="Order")
    order_button.wait_for(timeout=30_000)
    order_button.click()

    progress = panel.locator(".widget-label", has_text=re.compile(r"^3/3 complete$"))
    progress.wait_for(timeout=30_000)
    rows = panel.locator("table.pizza-table tbody tr")
    page.wait_for_function("n => document.querySelectorAll('table.pizza-table tbody tr').length >= n", arg=3,
                           timeout=30_000)
    assert rows.count() == 3
    assert panel.locator(".widget-label", has_text="in progress").count() == 0
    first_row = rows.first.inner_text()
    assert re.search(r"…\d{6}\s+1\s", first_row), first_row
    _dismiss_news_toast(page)
    panel.scroll_into_view_if_needed()
    page.wait_for_timeout(300)  # let the scrolled cells paint
    page.screenshot(path=str(artifacts / "lesson06_order_panel.png"))

    # Further down, the live push-query widget shows ksqlDB's order-status table: a row per order, this one too.
    ordered = re.search(r"…(\d{6})\s", first_row).group(1)
    widget_cell = _index_of(notebook, "ksql_status = LiveQueryView(")
    check_cell = _index_of(notebook, "# Check yourself: the push query's table")
    cells = page.locator(".jp-Notebook .jp-Cell")
    cells.nth(panel_cell + 1).locator(".jp-InputPrompt").first.click()
    for index in range(panel_cell + 1, check_cell + 1):
        page.keyboard.press("Shift+Enter")
        if notebook.cells[index].cell_type == "code":
            _wait_executed(page, cells.nth(index), index)
    widget = cells.nth(widget_cell)
    assert "SELECT order_id, finished FROM pizza_order_status EMIT CHANGES" in widget.inner_text()
    # 19 orders by now (18 from the lesson's cells, 1 from the click); the newest, of 4 pizzas, is drawn complete.
    page.wait_for_function(
        "n => { const rows = document.querySelectorAll('table.live-query-table tbody tr');"
        " return rows.length >= n && rows[rows.length - 1].innerText.trim().split(/\\s+/)[1] === '4'; }",
        arg=19, timeout=30_000)
    live_rows = widget.locator("table.live-query-table tbody tr")
    shown = [live_rows.nth(i).inner_text().split() for i in range(live_rows.count())]
    assert all(len(cells_text) == 2 and int(cells_text[1]) >= 1 for cells_text in shown), shown
    assert [finished for order_id, finished in shown if order_id.endswith(ordered)] == ["3"], shown
    assert widget.locator(".widget-label", has_text="row(s) · live").count() == 1

    widget.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    page.screenshot(path=str(artifacts / "lesson06_push_query.png"))

    # Shutting the kernel down stops the shop (pipelines stop at interpreter exit): port 8094 is free again.
    for session in jupyterlab.api("GET", "sessions").json():
        jupyterlab.api("DELETE", f"sessions/{session['id']}")
    deadline = time.monotonic() + 30
    while not port_is_free(load_settings().pizza_port):
        assert time.monotonic() < deadline, "the shop kept running after the kernel shut down"
        time.sleep(0.2)
