"""The Airflow UI in a real browser: headless Chromium (Debian's `chromium`, installed by
`make test`) driven by Playwright, against the scheduler stack after create_tables and the
final_project run its asset triggered (the session fixtures in conftest.py).

It logs in through the UI's login form and checks what a person would look at: both DAGs
listed, each DAG's graph with the tasks in dependency order (from the rendered node
positions, left to right), the grid of runs, the asset graph create_tables ->
sparkify_warehouse_schema -> final_project -> the table assets, and the DAG and task docs
rendered as HTML. Every test saves a screenshot in a temporary directory (its path is
printed); with SPARKIFY_UPDATE_SCREENSHOTS=1 the README's screenshots in docs/images/ are
replaced by this run's.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import shutil
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from dev.airflow_api import AirflowAPI
from include.sparkify.loads import TABLES

pytestmark = pytest.mark.scheduler

REPO = Path(__file__).resolve().parents[1]
IMAGES = REPO / "docs" / "images"
CHROMIUM = Path(os.environ.get("SPARKIFY_CHROMIUM", "/usr/bin/chromium"))
# Headless on a machine without network: no background connections (refused here anyway),
# no sandbox (root), no GPU.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1600, "height": 1000}
TIMEOUT_MS = 90_000  # the machine is small and shared; the SPA's first load can be slow

# final_project's tasks as the graph shows them (the quality checks collapsed into their
# task group), in dependency order: each layer runs after the one before it.
FINAL_PROJECT_LAYERS = [
    ["Begin_execution"],
    ["Stage_events", "Stage_songs"],
    ["Load_songplays_fact_table"],
    ["Load_user_dim_table", "Load_song_dim_table", "Load_artist_dim_table", "Load_time_dim_table"],
    ["Run_data_quality_checks"],
    ["Publish"],
    ["Stop_execution"],
]
CREATE_TABLES_LAYERS = [["Begin_execution"], ["Create_tables"], ["Stop_execution"]]
SCREENSHOTS = {"create_tables_graph.png", "final_project_graph.png", "final_project_grid.png", "assets_graph.png"}


# ------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    """Where this run's screenshots go; copied to docs/images/ at the end on request."""
    out = tmp_path_factory.mktemp("ui-screenshots")
    yield out
    print(f"\nUI screenshots of this run: {out}")
    if os.environ.get("SPARKIFY_UPDATE_SCREENSHOTS") == "1":
        IMAGES.mkdir(parents=True, exist_ok=True)
        for name in sorted(SCREENSHOTS):
            if (out / name).exists():
                shutil.copyfile(out / name, IMAGES / name)
                print(f"updated {IMAGES / name}")


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make browser` (part of `make test`) installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class UI:
    """Opens pages as the user logged in once through the UI's login form. The pages share one
    browser context, so the UI's scripts are fetched and compiled once: loading /dags took 13-15
    CPU-s of the machine in a fresh context here and 8-9 in a shared one (4 loads each way on an
    idle stack, every process counted). Each page starts from the local storage the login left,
    so no UI state (views, panels) leaks between tests."""

    def __init__(self, browser, base_url: str, shots: Path) -> None:
        self.shots = shots
        self.context = browser.new_context(viewport=VIEWPORT, base_url=base_url)
        self.context.set_default_timeout(TIMEOUT_MS)
        self.keeper = self.context.new_page()  # holds the login; keeps the context's renderer

    def log_in(self, password: str) -> None:
        page = self.keeper
        with saved_on_failure(page, self.shots, "login"):
            page.goto("/dags")
            page.wait_for_url(re.compile(r"/auth/login"))  # not logged in: the SPA sends us to the form
            page.get_by_label("Username").fill("admin")
            page.get_by_label("Password").fill(password)
            page.get_by_role("button", name=re.compile("sign in", re.I)).click()
            page.wait_for_url(re.compile(r"/dags/?$"))
            page.get_by_role("link", name="final_project", exact=True).first.wait_for()
        stored = page.evaluate("() => Object.fromEntries(Object.entries(localStorage))")
        # On a page's first document only (sessionStorage is the page's own): the local
        # storage of right after the login, whatever an earlier page left in it.
        self.context.add_init_script(
            "if (location.protocol.startsWith('http') && !sessionStorage.getItem('sparkify-page')) {"
            " sessionStorage.setItem('sparkify-page', '1');"
            f" localStorage.clear(); for (const [k, v] of Object.entries({json.dumps(stored)}))"
            " localStorage.setItem(k, v); }"
        )
        page.goto("about:blank")  # an idle page polls nothing

    @contextlib.contextmanager
    def page(self, name: str):
        page = self.context.new_page()
        try:
            with saved_on_failure(page, self.shots, name):
                yield page
        finally:
            page.close()


@pytest.fixture(scope="module")
def ui(browser, scheduler_stack, asset_triggered_run, shots) -> UI:
    """Logs in through the UI's login form (simple auth manager, user admin)."""
    stack, _ = scheduler_stack
    ui = UI(browser, stack.api_url, shots)
    ui.log_in(stack.admin_password())
    yield ui
    ui.context.close()


@pytest.fixture(scope="module")
def api(scheduler_stack) -> AirflowAPI:
    stack, _ = scheduler_stack
    return AirflowAPI(stack.api_url, "admin", stack.admin_password())


@contextlib.contextmanager
def saved_on_failure(page, shots: Path, name: str):
    try:
        yield
    except BaseException:
        with contextlib.suppress(Exception):
            page.screenshot(path=str(shots / f"FAILED-{name}.png"), full_page=True)
        raise


# ------------------------------------------------------------------------------ helpers
def show_graph(page) -> None:
    page.get_by_role("button", name=re.compile(r"^Show Graph")).click()
    page.locator(".react-flow__node").first.wait_for()


def wait_until_stable(page, read, what: str, timeout: float = 30):
    """Until read(page) gives the same value twice in a row, 250 ms apart: a condition (the
    thing stopped moving), not a fixed wait. Returns that value."""
    deadline = time.monotonic() + timeout
    before = object()
    while True:
        value = read(page)
        if value == before:
            return value
        assert time.monotonic() < deadline, f"{what} did not settle within {timeout:.0f}s"
        before = value
        page.wait_for_timeout(250)


def divider_box(page):
    """Where the divider beside the details panel is (None once the panel is collapsed away)."""
    handle = page.locator("[data-panel-resize-handle-id]")
    return handle.first.bounding_box() if handle.count() else None


def wait_until_settled(page) -> None:
    """Until the page is idle and the graph's nodes have stopped moving (the layout animates)."""
    page.wait_for_load_state("networkidle")
    wait_until_stable(page, node_boxes, "the graph layout")


def drag_divider(page, to_fraction: float) -> None:
    """Move the divider between the main panel and the details panel (for screenshots)."""
    handle = page.locator("[data-panel-resize-handle-id]").first
    box = handle.bounding_box()
    y = box["y"] + 100  # clear of the collapse button in the divider's middle
    page.mouse.move(box["x"] + box["width"] / 2, y)
    page.mouse.down()
    page.mouse.move(VIEWPORT["width"] * to_fraction, y, steps=10)
    page.mouse.up()
    wait_until_stable(page, divider_box, "the divider")


def fit_graph(page, collapse_details: bool) -> None:
    """Fit the graph into its panel; first collapse the details panel beside it if asked."""
    if collapse_details:
        page.get_by_role("button", name="Collapse Details Panel").click()
        wait_until_stable(page, divider_box, "the collapsing details panel")
    page.get_by_role("button", name="Fit View").click()
    wait_until_settled(page)


def node_boxes(page) -> dict[str, dict]:
    """The rendered graph nodes: React Flow id -> bounding box on the page."""
    return {node.get_attribute("data-id"): node.bounding_box() for node in page.locator(".react-flow__node").all()}


def edge_ids(page) -> set[str]:
    return {edge.get_attribute("data-id") for edge in page.locator(".react-flow__edge").all()}


def assert_left_to_right(boxes: dict[str, dict], layers: list[list[str]]) -> None:
    """Every node of a layer is drawn entirely right of every node of the layer before."""
    missing = [node for layer in layers for node in layer if node not in boxes]
    assert not missing, f"not in the graph: {missing}; it shows {sorted(boxes)}"
    for before, after in itertools.pairwise(layers):
        right_edge = max(boxes[n]["x"] + boxes[n]["width"] for n in before)
        left_edge = min(boxes[n]["x"] for n in after)
        assert right_edge < left_edge, (
            f"{after} should be drawn right of {before}: { {n: round(boxes[n]['x']) for n in before + after} }"
        )


def assert_edges(edges: set[str], layers: list[list[str]]) -> None:
    expected = {f"{a}-{b}" for before, after in itertools.pairwise(layers) for a in before for b in after}
    assert expected <= edges, f"missing dependency edges: {sorted(expected - edges)}"


def run_graph(
    ui: UI, dag_id: str, run_id: str, layers: list[list[str]], screenshot: str, collapse_details: bool
) -> None:
    with ui.page(screenshot) as page:
        page.goto(f"/dags/{dag_id}/runs/{quote(run_id, safe='')}")
        show_graph(page)
        fit_graph(page, collapse_details)
        boxes = node_boxes(page)
        assert_left_to_right(boxes, layers)
        assert_edges(edge_ids(page), layers)
        # The run's task states are drawn on the nodes.
        for node in [n for layer in layers for n in layer]:
            assert "success" in page.locator(f".react-flow__node[data-id='{node}']").inner_text(), node
        page.screenshot(path=str(ui.shots / screenshot))


# ------------------------------------------------------------------------------ tests
def test_both_dags_are_listed(ui):
    with ui.page("dags") as page:
        page.goto("/dags")
        for dag_id in ("create_tables", "final_project"):
            page.get_by_role("link", name=dag_id, exact=True).first.wait_for()
        # final_project's schedule names the schema asset (the column renders after the list itself)
        page.get_by_role("link", name="sparkify_warehouse_schema").first.wait_for()
        page.screenshot(path=str(ui.shots / "dags.png"))


def test_final_project_graph_shows_the_tasks_in_order(ui, asset_triggered_run):
    run_graph(
        ui,
        "final_project",
        asset_triggered_run["dag_run_id"],
        FINAL_PROJECT_LAYERS,
        "final_project_graph.png",
        collapse_details=True,
    )


def test_create_tables_graph_shows_the_tasks_in_order(ui, api, asset_triggered_run):
    run = api.runs("create_tables")[0]
    run_graph(
        ui, "create_tables", run["dag_run_id"], CREATE_TABLES_LAYERS, "create_tables_graph.png", collapse_details=False
    )


def test_grid_shows_the_runs_and_their_task_states(ui, api, asset_triggered_run):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    runs = api.runs("final_project")
    with ui.page("final_project_grid.png") as page:
        page.goto("/dags/final_project")
        page.get_by_role("button", name=re.compile(r"^Show Grid")).click()
        page.get_by_test_id("task-Stop_execution").wait_for()
        wait_until_settled(page)
        # A row per top-level task, in dependency order (within a layer the grid may order freely).
        rows = page.locator("[data-testid^='task-']:not([data-testid='task-state-badge'])").evaluate_all(
            "els => els.map(e => e.dataset.testid.slice('task-'.length))"
        )
        expected = [task for layer in FINAL_PROJECT_LAYERS for task in layer]
        assert set(expected) <= set(rows), sorted(set(expected) - set(rows))
        for before, after in itertools.pairwise(FINAL_PROJECT_LAYERS):
            assert max(rows.index(t) for t in before) < min(rows.index(t) for t in after), (before, after, rows)
        # A column per run, the latest 10 by default; a finished run's cells show each task's state.
        latest = runs[-10:]
        shown = []
        for r in latest:  # the columns load run by run: wait for each (a loaded machine is slow)
            cell = page.get_by_test_id(f"grid-{r['dag_run_id']}-Stop_execution")
            try:
                cell.wait_for(timeout=60_000)
            except PlaywrightTimeout:
                continue
            shown.append(r["dag_run_id"])
        assert shown == [r["dag_run_id"] for r in latest], (shown, [r["dag_run_id"] for r in runs])
        finished = [r for r in latest if r["state"] in ("success", "failed")]
        assert asset_triggered_run["dag_run_id"] in {r["dag_run_id"] for r in finished} or len(runs) > 10
        for task in expected:
            cell = page.get_by_test_id(f"grid-{finished[-1]['dag_run_id']}-{task}")
            assert cell.get_by_test_id("task-state-badge").count() == 1, task
        drag_divider(page, 0.45)  # a wider grid for the screenshot
        wait_until_settled(page)
        page.screenshot(path=str(ui.shots / "final_project_grid.png"))


def test_asset_graph_shows_the_lineage(ui):
    """From the asset list to the schema asset's graph: create_tables -> schema asset ->
    final_project -> one asset per star-schema table (other DAGs may hang off those)."""
    with ui.page("assets_graph.png") as page:
        page.goto("/assets")
        names = ["sparkify_warehouse_schema"] + [f"sparkify_{table}" for table in TABLES]
        for name in names:
            page.get_by_role("link", name=name, exact=True).wait_for()
        page.get_by_role("link", name="sparkify_warehouse_schema", exact=True).click()
        page.wait_for_url(re.compile(r"/assets/\d+"))
        schema_id = re.search(r"/assets/(\d+)", page.url).group(1)
        page.locator(".react-flow__node").first.wait_for()
        wait_until_settled(page)

        labels = {
            node.get_attribute("data-id"): node.inner_text().strip() for node in page.locator(".react-flow__node").all()
        }
        edges = edge_ids(page)
        schema = f"asset:{schema_id}"
        assert labels.get(schema) == "sparkify_warehouse_schema", labels
        assert {"dag:create_tables", "dag:final_project"} <= set(labels), labels
        assert f"dag:create_tables-{schema}" in edges and f"{schema}-dag:final_project" in edges, edges
        tables = {
            node: label
            for node, label in labels.items()
            if node.startswith("asset:") and f"dag:final_project-{node}" in edges
        }
        assert sorted(tables.values()) == sorted(f"sparkify_{table}" for table in TABLES), (tables, edges)

        drag_divider(page, 0.78)  # a wider graph for the screenshot
        fit_graph(page, collapse_details=False)
        boxes = node_boxes(page)
        assert_left_to_right(boxes, [["dag:create_tables"], [schema], ["dag:final_project"], sorted(tables)])
        page.screenshot(path=str(ui.shots / "assets_graph.png"))


@pytest.mark.parametrize("dag_id", ["create_tables", "final_project"])
def test_dag_docs_render_as_html(ui, api, dag_id):
    doc_md = api.get(f"/api/v2/dags/{dag_id}/details")["doc_md"]
    assert doc_md and doc_md.strip(), f"{dag_id} has no doc_md"
    with ui.page(f"{dag_id}_docs.png") as page:
        page.goto(f"/dags/{dag_id}")
        page.get_by_role("button", name="Dag Docs").click()
        dialog = page.get_by_role("dialog")
        dialog.wait_for()
        assert_markdown_rendered(dialog, doc_md)
        dialog.screenshot(path=str(ui.shots / f"{dag_id}_docs.png"))


def test_task_docs_render_in_task_details(ui, api):
    """Every final_project task that has a docstring or doc_md shows it, rendered, behind
    its Documentation button: checked on the TaskFlow tasks (docstrings) and the loads."""
    tasks = {t["task_id"]: t.get("doc_md") for t in api.get("/api/v2/dags/final_project/tasks")["tasks"]}
    documented = [
        "Begin_execution",
        "Stage_events",
        "Stage_songs",
        "Load_songplays_fact_table",
        "Load_user_dim_table",
        "Load_song_dim_table",
        "Load_artist_dim_table",
        "Load_time_dim_table",
        "Publish",
    ]
    assert all(tasks.get(task) for task in documented), {t: tasks.get(t) for t in documented}
    for task in ("Begin_execution", "Load_songplays_fact_table"):
        with ui.page(f"{task}_docs.png") as page:
            page.goto(f"/dags/final_project/tasks/{task}")
            page.get_by_role("button", name="Documentation", exact=True).click()
            dialog = page.get_by_role("dialog")
            dialog.wait_for()
            assert_markdown_rendered(dialog, tasks[task])
            dialog.screenshot(path=str(ui.shots / f"{task}_docs.png"))


def assert_markdown_rendered(dialog, doc_md: str) -> None:
    """The dialog shows doc_md as HTML: headings, bold and code spans are elements, and no
    markdown syntax is left in the text."""
    text = dialog.inner_text()
    for heading in re.findall(r"^#{1,6}\s+(.+)$", doc_md, flags=re.M):
        assert dialog.locator("h1, h2, h3, h4, h5, h6").filter(has_text=heading.strip()).count() >= 1, heading
    for strong in re.findall(r"\*\*(.+?)\*\*", doc_md):
        assert dialog.locator("strong").filter(has_text=strong).count() >= 1, strong
    # A code span may run over a line end; markdown renders that as a space.
    code_spans = {" ".join(span.split()) for span in re.findall(r"`([^`]+)`", doc_md)}
    codes = {" ".join(code.split()) for code in dialog.locator("code").all_inner_texts()}
    assert set(code_spans) <= codes, sorted(set(code_spans) - codes)
    assert "`" not in text and "**" not in text and not re.search(r"^#+ ", text, flags=re.M), text
    first_words = re.sub(r"[#*`]", "", doc_md).split()[:4]
    assert " ".join(first_words) in " ".join(text.split()), (first_words, text[:300])


def test_readme_shows_the_screenshots():
    """The README's screenshots exist in docs/images/ (taken by the tests above)."""
    readme = (REPO / "README.md").read_text()
    shown = set(re.findall(r"!\[[^\]]*\]\(docs/images/([^)\s]+)\)", readme))
    assert SCREENSHOTS <= shown, sorted(SCREENSHOTS - shown)
    for name in SCREENSHOTS:
        data = (IMAGES / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000, name
