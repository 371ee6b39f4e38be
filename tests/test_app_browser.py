"""The what-if app in a real browser: ``ooh-sim app`` on a free loopback port, driven by Selenium
with the system Chromium and chromedriver (``.ci/run`` installs Debian's ``chromium`` and
``chromium-driver`` when they are missing).

Change a lever, run, read the KPI cards, download the option YAML and summary.csv, and check that
the YAML, loaded by the CLI's loader and run alone, gives the app's numbers exactly. A screenshot
is kept as a test artefact (``$OOH_SIM_TEST_ARTEFACTS``, default ``results/test-artefacts/``).
Under CI=true a missing browser, driver or package is a failure, not a skip. Every wait is
bounded and the server is always stopped.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import unavailable

from ooh_sim.core.loader import load_scenario
from ooh_sim.core.runner import run

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
TINY = "extends: baseline.yaml\nname: tiny\nhorizon: {days: 63, warmup_days: 7}\n"
ARTEFACTS = Path(os.environ.get("OOH_SIM_TEST_ARTEFACTS", ROOT / "results" / "test-artefacts"))
START_TIMEOUT = 90  # s: server up (the first start imports numpy, scipy, streamlit …)
RUN_TIMEOUT = 180  # s: press run → cards (3 tiny replications: seconds; CI boxes are slow)
STEP_TIMEOUT = 60  # s: one redraw after a click or a key (a loaded CI box can take a while)


def browser_paths() -> tuple[str, str]:
    chrome = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver") or (
        "/usr/lib/chromium/chromedriver"
        if Path("/usr/lib/chromium/chromedriver").is_file()
        else None
    )
    if chrome is None or driver is None:
        unavailable("chromium / chromedriver is missing",
                    ".ci/run installs them: apt-get install chromium chromium-driver")
    return str(chrome), str(driver)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """``check()`` once it is truthy; elements the page redrew meanwhile count as not yet."""
    stale: tuple[type[BaseException], ...] = ()
    with contextlib.suppress(ImportError):
        from selenium.common.exceptions import StaleElementReferenceException

        stale = (StaleElementReferenceException,)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            value = check()
        except stale:
            value = None
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``ooh-sim app`` on a free loopback port (its own process group, always stopped)."""
    need_streamlit()
    shutil.copy(BASELINE, tmp_path / "baseline.yaml")
    (tmp_path / "tiny.yaml").write_text(TINY, encoding="utf-8")
    port = free_port()
    log = (tmp_path / "server.log").open("wb")
    env = dict(os.environ, OOH_SIM_APP_JOBS="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ooh_sim", "app", str(tmp_path / "tiny.yaml"), "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"the app exited: {(tmp_path / 'server.log').read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                return r.read() == b"ok"
        except OSError:
            return False

    try:
        wait_until(healthy, START_TIMEOUT, "the app's server")
        yield url, tmp_path
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)
        log.close()


def need_streamlit() -> None:
    try:
        import selenium  # noqa: F401
        import streamlit  # noqa: F401
    except ImportError:
        unavailable("streamlit or selenium is missing", "pip install -e '.[dev]'")


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[Any]:
    need_streamlit()
    chrome, chromedriver = browser_paths()
    from selenium import webdriver

    opts = webdriver.ChromeOptions()
    opts.binary_location = chrome
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1500,3000",
        "--force-device-scale-factor=1",
    ):
        opts.add_argument(arg)
    opts.add_experimental_option(
        "prefs",
        {
            "download.default_directory": str(tmp_path),
            "download.prompt_for_download": False,
            "download.directory_upgrade": True,
        },
    )
    d = webdriver.Chrome(options=opts, service=webdriver.ChromeService(chromedriver))
    d.set_page_load_timeout(60)
    d.set_script_timeout(30)
    try:
        yield d
    finally:
        d.quit()


def test_change_a_lever_run_read_cards_download_and_round_trip(server: Any, driver: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    url, folder = server
    d = driver
    d.get(url)

    def field(label: str) -> Any:
        return wait_until(
            lambda: d.find_elements(By.CSS_SELECTOR, f'input[aria-label="{label}"]'),
            START_TIMEOUT,
            f"the field {label!r}",
        )[0]

    def set_number(label: str, value: int) -> None:
        box = field(label)
        box.send_keys(Keys.CONTROL, "a")
        box.send_keys(str(value), Keys.ENTER)

    def body() -> str:
        return d.find_element(By.TAG_NAME, "body").text

    set_number("Simulated runs of 56 days per option", 3)
    set_number("Emergency placements (beds) on the rota", 4)
    wait_until(  # the page streams its elements: wait for the file, not only the sentence
        lambda: "Changed: Emergency placements" in (b := body())
        and "placements: {capacity: 4}" in b,
        STEP_TIMEOUT,
        "the changed lever and the option file showing it",
    )

    run_button = wait_until(
        lambda: [b for b in d.find_elements(By.TAG_NAME, "button") if "Run the option" in b.text],
        STEP_TIMEOUT,
        "the run button",
    )
    run_button[0].click()
    cards = wait_until(
        lambda: (
            len(found := d.find_elements(By.CSS_SELECTOR, '[data-testid="stMetric"]')) >= 6
            and found
        ),
        RUN_TIMEOUT,
        "the KPI cards",
    )
    values = [c.find_element(By.CSS_SELECTOR, '[data-testid="stMetricValue"]').text for c in cards]
    assert values[0].endswith(" h") and all(values), values
    text = body()
    assert "Today" in text and "95% CI" in text and "against today (tiny)" in text

    wait_until(  # the page has finished drawing: figures in, nothing running
        lambda: (
            "Take it away" in body()
            and len(d.find_elements(By.CSS_SELECTOR, '[data-testid="stImage"] img')) >= 2
            and not d.find_elements(By.CSS_SELECTOR, '[data-testid="stStatusWidget"]')
        ),
        RUN_TIMEOUT,
        "the page to finish drawing",
    )
    time.sleep(1)  # images decoded and laid out
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    d.save_screenshot(str(ARTEFACTS / "app_browser.png"))

    def click(label: str) -> bool:
        for b in d.find_elements(By.TAG_NAME, "button"):
            if b.text.strip() == label:
                d.execute_script("arguments[0].scrollIntoView({block: 'center'});", b)
                b.click()
                return True
        return False

    def download(label: str, name: str) -> Path:
        wait_until(lambda: click(label), STEP_TIMEOUT, f"the button {label!r}")
        path = folder / name
        wait_until(
            lambda: (
                path.is_file()
                and not (folder / f"{name}.crdownload").exists()
                and path.stat().st_size > 0
            ),
            STEP_TIMEOUT,
            f"the download {name}",
        )
        return path

    yaml_file = download("Option as YAML (extends the base)", "tiny_what_if.yaml")
    summary = download("summary.csv", "summary.csv")
    assert "extends: tiny.yaml" in yaml_file.read_text(encoding="utf-8")

    # the downloaded option, loaded by the CLI's loader and run alone, gives the app's numbers
    alone = run(load_scenario(yaml_file), jobs=1)
    rows = list(csv.DictReader(io.StringIO(summary.read_text(encoding="utf-8"))))
    app_means = {r["kpi"]: r["mean"] for r in rows if r["scenario"] == "tiny_what_if"}
    for k, e in alone.summary.items():
        if e.n:
            assert float(app_means[k]) == e.mean, k
    # and the first card shows that run's mean as the app formats it
    from ooh_sim.core import kpis

    assert values[0] == kpis.format("station.hours.mean", alone.summary["station.hours.mean"].mean)
