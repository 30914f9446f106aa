"""The sandbox workspace page in a real Chromium: the P0 paged and acknowledged, a deploy
approved by reaction, an outsider refused in private. Screenshots of each step go to
artifacts/sandbox-screenshots/ (uploaded by CI)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait

from tests.sandbox_page.conftest import SCREENSHOTS, Sandbox

# Waiting for the bot's effects, not timing them: generous, for a loaded CI machine.
PATIENCE = 30


class Page:
    """The page re-renders on every change, so elements are found afresh for each step
    and a step whose element was replaced under it is tried again."""

    def __init__(self, driver: Any, sandbox: Sandbox, scenario: str) -> None:
        self.driver = driver
        self.scenario = scenario
        self.step = 0
        driver.get(sandbox.page)
        self.until(lambda: self.driver.find_elements(By.CSS_SELECTOR, "#examples [data-fire]"))

    def until(self, condition: Callable[[], Any]) -> Any:
        wait = WebDriverWait(
            self.driver, PATIENCE, ignored_exceptions=(StaleElementReferenceException,)
        )
        return wait.until(lambda _: condition())

    def click(self, css: str) -> None:
        def attempt() -> bool:
            self.driver.find_element(By.CSS_SELECTOR, css).click()
            return True

        self.until(attempt)

    def text(self, css: str) -> str:
        return str(self.until(lambda: self.driver.find_element(By.CSS_SELECTOR, css).text))

    def shot(self, name: str) -> None:
        self.step += 1
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(SCREENSHOTS / f"{self.scenario}-{self.step}-{name}.png"))

    def be(self, user: str) -> None:
        self.until(
            lambda: (
                Select(self.driver.find_element(By.ID, "user-switcher")).select_by_value(user)
                or True
            )
        )

    def channel(self, channel: str) -> None:
        self.click(f'.channel[data-channel="{channel}"]')

    def fire(self, example: str) -> None:
        self.click(f'[data-fire="{example}"]')

    def ts_of(self, text: str) -> str:
        """The ts of the channel's message whose text contains `text`, once it is there."""

        def find() -> str | None:
            for message in self.driver.find_elements(By.CSS_SELECTOR, "#messages > .message"):
                if text in message.text:
                    return str(message.get_attribute("data-ts"))
            return None

        return str(self.until(find))

    def message(self, ts: str) -> str:
        return f'#messages > .message[data-ts="{ts}"]'

    def buttons(self, ts: str) -> list[str]:
        return list(
            self.until(
                lambda: (
                    [
                        b.text
                        for b in self.driver.find_elements(
                            By.CSS_SELECTOR, self.message(ts) + " .bk-button"
                        )
                    ]
                    or ["(none)"]
                )
            )
        )

    def count(self, css: str) -> int:
        return len(self.driver.find_elements(By.CSS_SELECTOR, css))


def test_a_p0_fired_from_the_page_pages_and_is_acknowledged_in_place(
    sandbox: Sandbox, browser: Any
) -> None:
    page = Page(browser, sandbox, "p0")
    page.shot("empty-workspace")

    page.fire("api-down-p0")
    page.channel("C0000INCID")
    ts = page.ts_of("P0 · FIRING · APIDown")
    page.until(lambda: "Paged PagerDuty" in page.text(page.message(ts)))
    assert page.buttons(ts) == ["Acknowledge", "Silence 1h", "Runbook", "Declare incident"]
    page.until(lambda: "TRIGGERED" in page.text("#incidents .incident"))
    page.shot("p0-in-incidents-and-pagerduty")

    page.be("U0000ONC01")
    page.click(page.message(ts) + ' [data-action-id="alert.ack"]')

    page.until(lambda: "Acknowledged by @Olu Oncall" in page.text(page.message(ts)))
    page.until(lambda: page.count("#incidents .incident.acknowledged") == 1)
    assert "Acknowledge" not in page.buttons(ts)
    assert "(edited)" in page.text(page.message(ts))
    assert page.count("#messages > .message") == 1  # changed in place, not posted again
    page.shot("acknowledged-in-slack-and-pagerduty")


def test_acknowledging_in_the_pagerduty_panel_is_followed_in_slack(
    sandbox: Sandbox, browser: Any
) -> None:
    page = Page(browser, sandbox, "pagerduty")
    page.fire("api-down-p0")
    page.channel("C0000INCID")
    ts = page.ts_of("P0 · FIRING · APIDown")
    page.be("U0000ONC01")
    page.click('#incidents .incident [data-pd-action="acknowledge"]')

    page.until(lambda: page.count("#incidents .incident.acknowledged") == 1)
    assert "Acknowledged by Olu Oncall" in page.text("#incidents .incident")
    page.until(lambda: "Acknowledge" not in page.buttons(ts))
    page.shot("acknowledged-in-pagerduty-followed-in-slack")


def test_the_pagerduty_messages_acknowledge_acts_in_pagerduty_as_the_on_call_user(
    sandbox: Sandbox, browser: Any
) -> None:
    page = Page(browser, sandbox, "pagerduty-rest")
    page.fire("api-down-p0")
    page.channel("C0000INCID")
    page.until(lambda: "TRIGGERED" in page.text("#incidents .incident"))
    page.shot("p0-paged-shown-in-pagerduty")

    # An incident nobody paged through the bot, opened in "PagerDuty": the bot posts its
    # own message for it, whose buttons call PagerDuty's REST API as the clicking person.
    page.click("#pd-open-send")
    ts = page.ts_of("PagerDuty #2 · TRIGGERED")
    assert page.buttons(ts) == ["Acknowledge", "Resolve"]
    page.shot("incident-opened-in-pagerduty-posted-in-slack")

    page.be("U0000ONC01")
    page.click(page.message(ts) + ' [data-action-id="pagerduty.ack"]')

    page.until(lambda: page.count("#incidents .incident.acknowledged") == 1)
    acknowledged = page.text("#incidents .incident.acknowledged")
    assert "Checkout latency above SLO" in acknowledged
    assert "Acknowledged by Olu Oncall (from Slack" in acknowledged
    assert (
        page.count("#incidents .incident") == 2
    )  # the P0's incident is still there, still triggered
    page.until(lambda: "PagerDuty #2 · ACKNOWLEDGED" in page.text(page.message(ts)))
    assert page.buttons(ts) == ["Resolve"]
    page.shot("acknowledged-from-slack-shown-in-pagerduty")


def test_a_deploy_requested_and_approved_by_reaction_succeeds(
    sandbox: Sandbox, browser: Any
) -> None:
    page = Page(browser, sandbox, "deploy")
    page.be("U0000DEP01")
    page.channel("C0000DEPLY")
    browser.find_element(By.ID, "composer-input").send_keys("/deploy api v1.4.0 staging")
    page.click("#composer-send")
    ts = page.ts_of("Deploy v1.4.0 to api/staging")
    assert "Pending" in page.text(page.message(ts))
    page.shot("requested")

    page.be("U0000APR01")

    def open_picker() -> bool:
        message = browser.find_element(By.CSS_SELECTOR, page.message(ts))
        ActionChains(browser).move_to_element(message).perform()
        message.find_element(By.CSS_SELECTOR, ".add-reaction").click()
        return True

    page.until(open_picker)
    page.click(page.message(ts) + ' [data-emoji="white_check_mark"]')

    page.until(lambda: "Succeeded" in page.text(page.message(ts)))
    reaction = page.message(ts) + ' .reaction.mine[data-name="white_check_mark"]'
    assert page.text(reaction).endswith("1")
    page.shot("approved-and-succeeded")


def test_an_outsiders_click_is_refused_in_a_message_only_they_see(
    sandbox: Sandbox, browser: Any
) -> None:
    page = Page(browser, sandbox, "outsider")
    page.fire("api-down-p0")
    page.channel("C0000INCID")
    ts = page.ts_of("P0 · FIRING · APIDown")

    page.be("U0000OUT01")
    page.click(page.message(ts) + ' [data-action-id="alert.ack"]')
    refusal = page.text("#messages > .message.ephemeral")
    assert "Only visible to you" in refusal and "responders" in refusal
    assert "Acknowledge" in page.buttons(ts)  # nothing changed
    page.shot("refused-outsider-sees-it")

    page.be("U0000ONC01")
    page.until(lambda: page.count("#messages > .message.ephemeral") == 0)
    page.shot("others-do-not")


def test_a_deploy_typed_in_a_dm_is_answered_there_and_posted_in_deploys(
    sandbox: Sandbox, browser: Any
) -> None:
    """A DM of two people, which the bot is not in: the answer comes through the
    command's response_url, shown to the typist alone in that DM."""
    page = Page(browser, sandbox, "dm")
    page.be("U0000DEP01")
    page.channel("D0000DMDAN")
    browser.find_element(By.ID, "composer-input").send_keys("/deploy api v1.4.0 staging")
    page.click("#composer-send")

    def answered() -> str | None:
        for message in browser.find_elements(By.CSS_SELECTOR, "#messages > .message.ephemeral"):
            if "Approval request posted in" in message.text:
                return str(message.text)
        return None

    answer = str(page.until(answered))
    assert "Only visible to you" in answer and "#deploys" in answer
    page.shot("answered-in-the-dm")

    page.channel("C0000DEPLY")
    page.ts_of("Deploy v1.4.0 to api/staging")
    page.shot("request-in-deploys")


def test_an_incident_declared_from_the_p0_gets_its_channel_and_is_resolved_there(
    sandbox: Sandbox, browser: Any
) -> None:
    """The quick start's incident, by hand in the page: Declare incident on the P0, the
    new channel appears with its pinned summary, `/incident resolve` typed in it."""
    page = Page(browser, sandbox, "incident")
    page.fire("api-down-p0")
    page.channel("C0000INCID")
    ts = page.ts_of("P0 · FIRING · APIDown")
    page.be("U0000ONC01")
    page.click(page.message(ts) + ' [data-action-id="incident.declare"]')

    def new_channel() -> str | None:
        for item in browser.find_elements(By.CSS_SELECTOR, ".channel[data-channel]"):
            if "inc-" in item.text:
                return str(item.get_attribute("data-channel"))
        return None

    channel = str(page.until(new_channel))
    page.until(lambda: "incident #1" in page.text(page.message(ts)))  # the alert links it
    page.channel(channel)
    summary = page.ts_of("Investigating")
    page.shot("incident-channel-with-its-summary")

    browser.find_element(By.ID, "composer-input").send_keys("/incident resolve api is back")
    page.click("#composer-send")
    page.until(lambda: "Resolved" in page.text(page.message(summary)))
    assert "(edited)" in page.text(page.message(summary))  # the pinned summary, in place
    page.shot("incident-resolved")
