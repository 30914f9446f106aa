"""From `git clone` to the first P0 on screen in the sandbox page, in a real browser.

    .venv/bin/python benchmarks/sandbox_first_p0.py [--repo PATH]

Clones the repository into a temporary folder, runs `make sandbox` there (a fresh .venv
and install, then `chatops serve`), waits for the "Open http://..." line, opens the page
in headless Chromium, clicks Fire on api-down-p0 and stops the clock when the P0 message
is drawn in #incidents. Prints each phase and the total.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

FLAGS = (
    "--headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
    "--disable-background-networking --disable-component-update --disable-sync "
    "--window-size=1400,900"
).split()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repo", default=str(Path(__file__).resolve().parents[1]))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="chatops-clone-"))
    clone = work / "chatops"
    started = time.monotonic()
    subprocess.run(["git", "clone", "-q", args.repo, str(clone)], check=True)
    cloned = time.monotonic()
    ports = f"--port {free_port()} --sandbox-port {free_port()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CHATOPS_"))}
    make = subprocess.Popen(
        ["make", "sandbox", f"SANDBOX_ARGS={ports}"],
        cwd=clone,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    url = ""
    assert make.stdout is not None
    for line in make.stdout:
        if line.startswith("Open http://"):
            url = line.split()[1]
            break
    serving = time.monotonic()
    if not url:
        raise SystemExit("make sandbox ended without serving the page")
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in [*FLAGS, f"--user-data-dir={work / 'profile'}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        wait = WebDriverWait(driver, 60, ignored_exceptions=(StaleElementReferenceException,))
        driver.get(url)
        # The page redraws on every change: find and click in one step, again if replaced.
        for css in ('[data-fire="api-down-p0"]', '[data-channel="C0000INCID"]'):
            wait.until(lambda d, css=css: d.find_element(By.CSS_SELECTOR, css).click() or True)
        wait.until(lambda d: "P0 · FIRING · APIDown" in d.find_element(By.ID, "messages").text)
        on_screen = time.monotonic()
    finally:
        driver.quit()
        os.killpg(make.pid, signal.SIGTERM)
        make.wait(timeout=30)
    print(f"git clone:                         {cloned - started:6.1f} s")
    print(f"make sandbox (venv, install, serve): {serving - cloned:6.1f} s")
    print(f"page open, Fire, P0 drawn:          {on_screen - serving:6.1f} s")
    print(f"total, clone to P0 on screen:       {on_screen - started:6.1f} s")


if __name__ == "__main__":
    main()
