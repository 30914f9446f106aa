"""The sandbox page under attack, in a real Chromium (issue 21).

A page on another origin (here another port of 127.0.0.1: the same site, so the browser
sends the sandbox's SameSite cookie along) posts text/plain bodies at the control
endpoints, as a form and as no-cors fetches: refused, nothing changes. An alert summary with
a NUL in it is drawn without hanging the tab (the old renderer looped for ever on it).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.sandbox_page.conftest import Sandbox

PATIENCE = 30
ATTACK = """<!doctype html>
<html><head><title>win a prize</title></head><body>
<iframe name="sink"></iframe>
<form id="form" method="POST" enctype="text/plain" target="sink" action="{base}/_emulator/command">
<input name='{{"command":"/deploy","text":"api v1.4.0 staging","user":"U0000DEP01","channel":"C0000DEPLY","pad":"' value='"}}'>
</form>
<script>
const send = (path, body) => fetch("{base}" + path, {{
  method: "POST", mode: "no-cors", credentials: "include",
  headers: {{"Content-Type": "text/plain"}}, body: JSON.stringify(body),
}}).then(() => "answered", () => "failed");
document.getElementById("form").submit();
Promise.all([
  send("/_emulator/pagerduty/incidents", {{title: "opened by another site", user: "U0000ONC01"}}),
  send("/_emulator/alertmanager", {{name: "api-down-p0"}}),
]).then((outcomes) => {{ document.title = "done " + outcomes.join(","); }});
</script>
</body></html>
"""


@pytest.fixture
def attacker(sandbox: Sandbox) -> Iterator[str]:
    """Another origin on this machine serving the attack page."""
    page = ATTACK.format(base=f"http://127.0.0.1:{sandbox.sandbox_port}").encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def wait(driver: Any, condition: Callable[[Any], Any]) -> Any:
    waiting = WebDriverWait(driver, PATIENCE, ignored_exceptions=(StaleElementReferenceException,))
    return waiting.until(condition)


def control(sandbox: Sandbox, path: str) -> Any:
    import urllib.request

    request = urllib.request.Request(  # noqa: S310 - the test's own loopback sandbox
        sandbox.root + path.lstrip("/"), headers={"Authorization": f"Bearer {sandbox.token}"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310  # nosec B310
        return json.loads(answer.read())


def test_a_page_on_another_origin_cannot_act_in_the_sandbox(
    sandbox: Sandbox, browser: Any, attacker: str
) -> None:
    browser.get(sandbox.page)  # the person has the sandbox open: the cookie is set
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#examples [data-fire]"))

    browser.get(attacker)
    title = wait(browser, lambda d: d.title.startswith("done") and d.title)
    assert title == "done answered,answered", title  # the requests did reach the sandbox

    assert control(sandbox, "/_emulator/pagerduty/incidents")["incidents"] == []
    db = sqlite3.connect(sandbox.cwd / "chatops.db")
    try:
        assert db.execute("SELECT count(*) FROM webhook_deliveries").fetchone() == (0,)
    finally:
        db.close()
    # And the page itself still acts, from its own origin.
    browser.get(sandbox.page)
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#pd-open-send")).pop().click()
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#incidents [data-id]"))
    assert len(control(sandbox, "/_emulator/pagerduty/incidents")["incidents"]) == 1


def test_a_nul_in_an_alert_summary_does_not_hang_the_tab(
    sandbox: Sandbox, browser: Any, tmp_path: Path
) -> None:
    alert = json.loads(
        (Path(__file__).parents[2] / "examples/alerts/high-latency-firing.json").read_text()
    )
    summary = "Disk\u0000full \u0000 after-the-nul `code\u0000` <!here|x\u0000>"
    alert["commonAnnotations"]["summary"] = summary
    alert["alerts"][0]["annotations"]["summary"] = summary
    path = tmp_path / "nul.json"
    path.write_text(json.dumps(alert))
    assert sandbox.cli("alert", str(path)).returncode == 0

    def drawn() -> str:
        browser.get(sandbox.page)
        return str(
            wait(
                browser,
                lambda d: (
                    "after-the-nul" in (text := d.find_element(By.ID, "messages").text) and text
                ),
            )
        )

    # A hung tab blocks every WebDriver call: ask from a thread and give it a deadline.
    result: list[str] = []
    worker = threading.Thread(target=lambda: result.append(drawn()), daemon=True)
    worker.start()
    worker.join(PATIENCE + 30)
    if worker.is_alive():
        browser.service.process.kill()  # the tab is stuck; take the browser down with it
        pytest.fail("the page never drew the alert: the tab hangs on a NUL")
    assert result and "\u0000" not in result[0]
    assert "Disk\ufffdfull" in result[0]
