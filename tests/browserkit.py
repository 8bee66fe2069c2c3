"""Headless Chromium for page tests (selenium + the Debian chromium/chromium-driver packages).

``browser()`` yields a WebDriver, or skips the test with a reason when Chromium is absent,
unless ``WINNOW_REQUIRE_BROWSER=1`` (CI sets it): then a missing browser fails the test.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


def _missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    if not any(Path(p).exists() for p in CHROMIUM):
        return f"chromium is not installed ({' or '.join(CHROMIUM)})"
    if not Path(CHROMEDRIVER).exists():
        return f"chromedriver is not installed ({CHROMEDRIVER})"
    return None


@contextlib.contextmanager
def browser(width: int = 1280, height: int = 900) -> Iterator[Any]:
    """A headless Chromium with a fresh profile, quit afterwards."""
    reason = _missing()
    if reason is not None:
        if os.environ.get("WINNOW_REQUIRE_BROWSER") == "1":
            pytest.fail(f"WINNOW_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    from selenium import webdriver  # imported here: the module must load without selenium
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="winnow-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = next(p for p in CHROMIUM if Path(p).exists())
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={width},{height}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def open_file(driver: Any, path: Path) -> None:
    driver.get(path.resolve().as_uri())


def severe_console_errors(driver: Any) -> list[str]:
    """Console messages at level SEVERE (failed loads, script errors)."""
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def full_page_screenshot(driver: Any, path: Path) -> bytes:
    """A PNG of the whole page (not only the window), written to ``path``."""
    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    size = metrics["cssContentSize"]
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        },
    )
    data = base64.b64decode(shot["data"])
    path.write_bytes(data)
    return data
