"""The jobs console at ``/``, in a real headless Chromium: what a person sees and can do.

Each test drives the page as a person would (types the key, clicks) and checks what it shows,
against a real gateway (gunicorn) and the session's worker. The screenshots of the console in
docs/console/ are taken here. Chromium and its driver come from Debian (`chromium`,
`chromium-driver`; .ci/run installs them): without them this module is skipped, loudly.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from app.store.apikeys import KeyStore
from app.store.keys import Keys
from tests.helpers import API_KEY, ROOT, TESTS, start_gateway, stop

# The docs' screenshots are rewritten only when asked (JOBGATE_UPDATE_SCREENSHOTS=1), so that a
# test run leaves the work tree as it found it; otherwise they go to a scratch folder.
SHOTS = (
    ROOT / "docs" / "console"
    if os.environ.get("JOBGATE_UPDATE_SCREENSHOTS")
    else Path(tempfile.gettempdir()) / "jobgate-console-shots"
)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
DRIVER = shutil.which("chromedriver")
WAIT_S = 20

if not (CHROMIUM and DRIVER):
    reason = (
        "NO BROWSER FOUND: the console's browser tests did not run. Install Debian's chromium and "
        "chromium-driver (apt-get install chromium chromium-driver; .ci/run does it) and run them again."
    )
    warnings.warn(reason, stacklevel=1)
    pytest.skip(reason, allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import TimeoutException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def console_url(settings, worker, tmp_path_factory) -> Iterator[str]:
    """A gateway (gunicorn) with a small endpoints file, so that the views fit a screenshot."""
    log = tmp_path_factory.mktemp("console") / "gateway.log"
    proc, url = start_gateway(settings, log, JOBGATE_ENDPOINTS_FILE=str(TESTS / "console_endpoints.toml"))
    yield url
    stop(proc)


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    yield driver
    driver.quit()


class Console:
    """The console in one browser tab: open it, sign in, find things, wait for them."""

    def __init__(self, driver: WebDriver, url: str):
        self.driver = driver
        self.url = url

    def open(self, key: str | None = API_KEY, path: str = "") -> None:
        """A fresh visit (no key kept from before), signed in with ``key`` unless None."""
        self.driver.get(self.url + "/#" + path)
        self.driver.execute_script("sessionStorage.clear()")
        self.driver.refresh()
        if key is not None:
            self.sign_in(key)
            self.wait_for(".bar .who", "key")

    def sign_in(self, key: str) -> None:
        field = self.wait_for("#api-key")
        field.send_keys(key)
        self.find("#login button[type=submit]").click()

    def find(self, css: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def all(self, css: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def wait_for(self, css: str, text: str | None = None, timeout: float = WAIT_S) -> WebElement:
        """The first element matching ``css`` (and containing ``text``), once there."""

        def found(_: Any) -> WebElement | bool:
            for element in self.all(css):
                try:
                    if element.is_displayed() and (text is None or text in element.text):
                        return element
                except Exception:  # replaced by a refresh between find and read: look again
                    continue
            return False

        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.1).until(found)
        except TimeoutException:
            body = self.find("body").text
            pytest.fail(f"no {css!r}{f' with {text!r}' if text else ''} after {timeout} s; the page shows:\n{body}")

    def screenshot(self, name: str) -> None:
        """The whole page as docs/console/<name>.png."""
        SHOTS.mkdir(parents=True, exist_ok=True)
        height, chrome = self.driver.execute_script(
            "return [document.documentElement.scrollHeight, window.outerHeight - window.innerHeight]"
        )
        self.driver.set_window_size(1280, min(int(height) + int(chrome), 2400))
        try:
            self.driver.save_screenshot(str(SHOTS / f"{name}.png"))
        finally:
            self.driver.set_window_size(1280, 900)


@pytest.fixture
def console(browser, console_url) -> Console:
    return Console(browser, console_url)


def run(url: str, endpoint: str, job_input: Any) -> str:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    r = requests.post(f"{url}/v2/{endpoint}/run", json={"input": job_input}, headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["id"]


def status(url: str, endpoint: str, job_id: str, wait: bool = False) -> dict[str, Any]:
    path = f"status-sync/{job_id}?wait=30000" if wait else f"status/{job_id}"
    r = requests.get(f"{url}/v2/{endpoint}/{path}", headers={"Authorization": f"Bearer {API_KEY}"}, timeout=40)
    assert r.status_code == 200, r.text
    return r.json()


def test_the_page_asks_for_a_key_and_a_wrong_key_gets_a_clear_message(console):
    console.open(key=None)
    console.sign_in("not-a-key")
    message = console.wait_for("#login-message .message.error")
    assert "refused this key" in message.text and "invalid API key" in message.text
    assert console.all("#endpoints") == []
    console.screenshot("login-refused")


def test_the_overview_shows_each_endpoint_with_its_counts_and_workers(console, console_url):
    done = run(console_url, "echo", {"hello": "world"})
    failed = run(console_url, "echo", {"fail": "on purpose"})
    status(console_url, "echo", done, wait=True)
    status(console_url, "echo", failed, wait=True)
    console.open()
    card = console.wait_for("[data-endpoint=echo]")
    console.wait_for("[data-endpoint=echo] [data-stat=completed] .n", "1")
    console.wait_for("[data-endpoint=echo] [data-stat=failed] .n", "1")
    console.wait_for("[data-endpoint=echo] .badge[data-status=idle]")
    assert {e.get_attribute("data-endpoint") for e in console.all("[data-endpoint]")} == {
        "echo",
        "echo-stream",
        "unserved",
    }
    assert "CPU" in card.text or "GPU" in card.text
    console.screenshot("overview")


def test_a_job_submitted_through_the_api_appears_in_the_list_while_it_is_open(console, console_url):
    console.open(path="/requests/echo")
    console.wait_for("#requests", "no job yet")
    job_id = run(console_url, "echo", {"n": 1})
    console.wait_for(f"#requests tr[data-job='{job_id}']")
    console.wait_for(f"#requests tr[data-job='{job_id}'] .badge", "COMPLETED")
    for more in range(3):
        status(console_url, "echo", run(console_url, "echo", {"n": more + 2}), wait=True)
    status(console_url, "echo", run(console_url, "echo", {"fail": "shown in red"}), wait=True)
    console.wait_for("#requests .badge", "FAILED")
    console.wait_for(f"#requests tr[data-job='{job_id}']")
    console.wait_for("#plots svg rect")
    console.screenshot("requests")


def test_the_status_filter_lists_only_jobs_in_that_state(console, console_url):
    ok = run(console_url, "echo", {"n": 1})
    bad = run(console_url, "echo", {"fail": "x"})
    status(console_url, "echo", ok, wait=True)
    status(console_url, "echo", bad, wait=True)
    console.open(path="/requests/echo?status=FAILED")
    console.wait_for(f"#requests tr[data-job='{bad}']")
    assert console.all(f"#requests tr[data-job='{ok}']") == []


def test_the_job_page_shows_input_output_and_timings(console, console_url):
    job_id = run(console_url, "echo", {"prompt": "a red bicycle", "steps": 3})
    status(console_url, "echo", job_id, wait=True)
    console.open(path=f"/jobs/echo/{job_id}")
    console.wait_for("h1 ~ .row .badge, .badge", "COMPLETED")
    assert '"prompt": "a red bicycle"' in console.wait_for("#job-input", "a red bicycle").text
    assert '"steps": 3' in console.wait_for("#job-output", "a red bicycle").text
    assert console.find("[data-fact=worker]").text.startswith("test-worker@")
    console.screenshot("job")


def test_a_failed_jobs_page_shows_its_error_parsed(console, console_url):
    job_id = run(console_url, "echo", {"fail": "the model ran out of memory"})
    status(console_url, "echo", job_id, wait=True)
    console.open(path=f"/jobs/echo/{job_id}")
    error = console.wait_for("#job-error", "the model ran out of memory")
    assert '"error_type": "RuntimeError"' in error.text
    console.wait_for("#retry")
    console.screenshot("job-failed")


def test_a_streaming_jobs_chunks_appear_while_it_runs(console, console_url):
    job_id = run(console_url, "echo-stream", {"chunks": 4, "sleep": 1.5})
    console.open(path=f"/jobs/echo-stream/{job_id}")
    console.wait_for("#chunks li", '{"chunk":0}')
    running = status(console_url, "echo-stream", job_id)
    assert running["status"] == "IN_PROGRESS"
    console.wait_for("#chunks li", '{"chunk":1}')
    console.screenshot("stream")
    console.wait_for(".badge", "COMPLETED")
    assert [li.text for li in console.all("#chunks li")] == [f'{{"chunk":{k}}}' for k in range(4)]


def test_the_cancel_button_cancels_a_running_job(console, console_url):
    job_id = run(console_url, "echo", {"sleep": 60})
    console.open(path=f"/jobs/echo/{job_id}")
    console.wait_for(".badge", "IN_PROGRESS")
    console.wait_for("#cancel").click()
    console.wait_for(".badge", "CANCELLED")
    assert status(console_url, "echo", job_id)["status"] == "CANCELLED"
    assert console.all("#cancel") == []


def test_purge_asks_first_and_removes_the_queued_jobs_once_confirmed(console, console_url):
    for n in range(3):
        run(console_url, "unserved", {"n": n})
    console.open(path="/requests/unserved")
    console.wait_for("#requests .badge", "IN_QUEUE")
    console.wait_for("#purge").click()
    console.wait_for("#modal .dialog", "Purge unserved's queue?")
    console.screenshot("purge-confirm")
    console.find("#modal-cancel").click()
    assert not console.find("#modal").is_displayed()
    assert len(console.all("#requests .badge")) == 3
    console.find("#purge").click()
    console.wait_for("#modal-ok").click()
    console.wait_for("#notice", "3 queued job(s) removed")
    console.wait_for("#requests", "no job yet")


def test_a_read_only_key_sees_no_buttons(console, console_url, redis, settings):
    failed = run(console_url, "echo", {"fail": "x"})
    status(console_url, "echo", failed, wait=True)
    _, read_only = KeyStore(redis, Keys(settings.key_prefix)).create(read_only=True, name="viewer")
    console.open(key=read_only)
    assert "(read-only)" in console.wait_for(".bar .who").text
    console.open(key=read_only, path="/requests/echo")
    console.wait_for(f"#requests tr[data-job='{failed}']")
    assert console.all("#purge") == [] and console.all("#new-job") == []
    console.open(key=read_only, path=f"/jobs/echo/{failed}")
    console.wait_for("#job-error")
    assert console.all("#retry") == [] and console.all("#cancel") == []
