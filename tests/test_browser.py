"""Widgets in a real browser: JupyterLab, driven through Playwright with Debian's chromium (no browser download).

A JupyterLab server starts on a free loopback port with a token, in a temporary copy of the notebooks. The test
opens lesson 01's solution notebook and a small notebook that builds each lesson's widget without training, runs
all cells from the Run menu, waits for the widgets, moves a slider with the keyboard, and checks that the plot
image changed. On failure it saves a screenshot and prints its path.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
TIMEOUT_MS = 40_000

# Each lesson's widget, built without training: add a line when a lesson brings a widget.
WIDGETS = {
    "00_welcome": "from metarl_edu.notebook.discount import discount_explorer\n\ndiscount_explorer()",
    "01_mdp": "from metarl_edu.notebook import value_explorer\n\nvalue_explorer()",
    "02_q_learning": "from metarl_edu.notebook.learning import q_learning_explorer\n\n"
                     "q_learning_explorer(n_episodes=20)",
    "03_cartpole": "import gymnasium as gym\nfrom metarl_edu.notebook.cartpole import cartpole_bins_explorer\n\n"
                   "cartpole_bins_explorer(lambda: gym.make('CartPole-v1'), n_episodes=50, n_eval=2)",
    "06_policy_gradients": "from metarl_edu.notebook.pg import reinforce_explorer\n\n"
                           "reinforce_explorer(batch_size=5, n_episodes=10)",
    "07_maml_sinusoid": "from metarl_edu.studies.sinusoid import MAMLRegression, PretrainedRegression\n"
                        "from metarl_edu.notebook.maml import maml_fit_explorer\n\n"
                        "maml_fit_explorer(MAMLRegression(seed=0), PretrainedRegression(seed=0))",
    "09_rl2": "from metarl_edu.notebook.rl2 import rl2_replay\nfrom metarl_edu.rl2 import RL2Agent\n"
              "from metarl_edu.studies.rl2 import preset\n\n"
              "rl2_replay(RL2Agent(preset('bandit', 10)), step=3)",
    "10_evaluation": "from metarl_edu.notebook.evaluation import case_study_explorer\n\ncase_study_explorer()",
    "11_inferring_the_task": "from metarl_edu.notebook.bayes import bayes_bandit_explorer\n\nbayes_bandit_explorer()",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def widgets_notebook() -> dict:
    cells = [{"cell_type": "code", "id": f"widget-{stem}", "metadata": {}, "source": source, "outputs": [],
              "execution_count": None} for stem, source in WIDGETS.items()]
    return {"cells": cells, "metadata": {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                                                        "name": "python3"}}, "nbformat": 4, "nbformat_minor": 5}


def wait_for_server(url: str, token: str, process: subprocess.Popen, seconds: float = 40) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with status {process.returncode}")
        try:
            request = urllib.request.Request(f"{url}/api/status", headers={"Authorization": f"token {token}"})
            with urllib.request.urlopen(request, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"JupyterLab did not answer at {url} within {seconds:g} s")


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[tuple[str, str]]:
    base = tmp_path_factory.mktemp("lab")
    notebooks, config = base / "notebooks", base / "jupyter"
    notebooks.mkdir()
    shutil.copy(ROOT / "solutions" / "01_mdp.ipynb", notebooks / "01_mdp.ipynb")
    (notebooks / "widgets.ipynb").write_text(json.dumps(widgets_notebook()), encoding="utf-8")
    for extension, name, values in (
        ("apputils-extension", "notification", {"fetchNews": "false", "checkForUpdates": False}),
        ("notebook-extension", "tracker", {"autoStartDefaultKernel": True}),  # no "Select Kernel" dialog
    ):
        folder = config / "settings" / "@jupyterlab" / extension
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.jupyterlab-settings").write_text(json.dumps(values))
    env = {k: v for k, v in os.environ.items() if k not in ("MPLBACKEND", "METARL_EDU_STRICT")}
    env.update(METARL_EDU_QUICK="1", IPYTHONDIR=str(config / "ipython"))
    for variable, folder in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_RUNTIME_DIR", "runtime"),
                             ("JUPYTER_DATA_DIR", "data"), ("JUPYTERLAB_SETTINGS_DIR", "settings"),
                             ("JUPYTERLAB_WORKSPACES_DIR", "workspaces")):
        env[variable] = str(config / folder)  # nothing is read from or written to the user's own Jupyter folders
    port, token = free_port(), os.urandom(16).hex()
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={notebooks}",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if os.geteuid() == 0:
        command.append("--allow-root")
    log = open(base / "jupyterlab.log", "wb")
    process = subprocess.Popen(command, cwd=notebooks, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_server(url, token, process)
        yield url, token
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install -y chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@contextmanager
def screenshot_on_failure(page: Page, path: Path) -> Iterator[None]:
    try:
        yield
    except BaseException:
        page.screenshot(path=str(path), full_page=True)
        print(f"browser test failed; screenshot saved to {path}")
        raise


def open_and_run_all(page: Page, url: str, token: str, name: str) -> Locator:
    """Open ``name`` in a fresh workspace, wait for its kernel, and run all cells from the Run menu."""
    page.goto(f"{url}/lab/workspaces/test-{Path(name).stem}/tree/{name}?reset&token={token}")
    panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")  # the notebook on show
    panel.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for()  # its kernel is up
    started = panel.locator(".jp-InputPrompt", has_text=re.compile(r"\[(\*|\d+)\]")).first
    for _attempt in range(3):  # on a busy machine the first request can come before the kernel connection is up
        panel.locator(".jp-Cell").first.click()
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        try:
            started.wait_for(timeout=10_000)  # queued cells show [*]
            return panel
        except PlaywrightTimeoutError:
            continue
    raise AssertionError(f"Run All Cells did not start the cells of {name}")


def image_source(scope: Locator) -> str | None:
    image = scope.locator(".widget-output img").first
    return image.get_attribute("src") if image.count() else None


def move_slider_and_expect_new_plot(page: Page, scope: Locator) -> None:
    """Press the right arrow on the widget's first slider handle; the widget's plot must be redrawn."""
    scope.locator(".widget-output img").first.wait_for()
    before = image_source(scope)
    assert before and before.startswith("data:image/png")
    handle = scope.locator(".widget-slider .noUi-handle").first
    handle.focus()
    for _ in range(5):
        handle.press("ArrowLeft")
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while time.monotonic() < deadline and image_source(scope) in (None, before):
        page.wait_for_timeout(200)
    after = image_source(scope)
    assert after and after != before, "moving the slider did not change the plot"


def test_lesson_01_widget_redraws_in_the_browser(lab, browser, tmp_path):
    url, token = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(TIMEOUT_MS)
    with screenshot_on_failure(page, tmp_path / "lesson-01.png"):
        panel = open_and_run_all(page, url, token, "01_mdp.ipynb")
        widget_cell = panel.locator(".jp-Cell", has=page.locator(".widget-slider")).last
        move_slider_and_expect_new_plot(page, widget_cell)
    page.close()


def test_every_lesson_widget_redraws_in_the_browser(lab, browser, tmp_path):
    url, token = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(TIMEOUT_MS)
    with screenshot_on_failure(page, tmp_path / "widgets.png"):
        cells = open_and_run_all(page, url, token, "widgets.ipynb").locator(".jp-Cell")
        for index, stem in enumerate(WIDGETS):
            scope = cells.nth(index)
            scope.locator(".widget-slider").first.wait_for()
            try:
                move_slider_and_expect_new_plot(page, scope)
            except AssertionError as exc:
                raise AssertionError(f"lesson {stem}'s widget: {exc}") from None
    page.close()
