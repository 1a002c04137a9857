"""Chromium for contenthub: how it is started and reaped (``launch``), and the worker's pool of
one browser per process with a context per account (``pool``)."""

from contenthub.browser.launch import (
    BrowserUnavailable,
    Driver,
    chromium_executable,
    chromium_processes,
    default_runtime_root,
    open_browser,
    reap_leftovers,
    start_driver,
)

__all__ = [
    "BrowserUnavailable",
    "Driver",
    "chromium_executable",
    "chromium_processes",
    "default_runtime_root",
    "open_browser",
    "reap_leftovers",
    "start_driver",
]
