"""The operations feature as the service sees it: built once, started, swept, stopped.

Work caused by a Slack request runs in tasks tracked here, after the request was
acknowledged; `settle()` waits for them, which is how tests (and shutdown) know the work
a request caused is done. The sweep expires requests and ends bakes; it runs in a loop
with the injected clock, and tests call it directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.deploy.health import HealthCheck
from actions.prometheus import PrometheusClient
from bot.approvals.kinds import ApprovalKind
from bot.clock import Clock
from bot.operations.analysis import BakeAnalysis
from bot.operations.backends import Backends
from bot.operations.bake import BakeWatch
from bot.operations.bake_chart import BakeCharts
from bot.operations.bake_outcome import BakeOutcome
from bot.operations.changes import ChangeListener, no_listener
from bot.operations.executor import Executor
from bot.operations.finishing import Finisher
from bot.operations.recovery import Recovery
from bot.operations.requests import Parsed, Requests, StatusQuery
from bot.operations.store import SqlDryRunStore
from bot.slack.usergroups import UserGroupDirectory, UserGroupsApi
from commands.answers import STATUS_RECEIVED, received
from commands.config import DeployConfig

log = logging.getLogger(__name__)


class Operations:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        config: DeployConfig,
        clock: Clock,
        slack_client: UserGroupsApi,
        *,
        on_outbox: Callable[[], None] = lambda: None,
        prometheus: Callable[[], PrometheusClient | None] = lambda: None,
        on_change: ChangeListener = no_listener,
    ) -> None:
        """`on_change` is told of every operation that ended (PagerDuty's change events),
        in the transaction that records its end."""
        self.config = config
        self.clock = clock
        self._on_outbox = on_outbox
        self.backends = Backends(config, SqlDryRunStore(sessions, clock))
        self.health = HealthCheck()
        self.directory = UserGroupDirectory(slack_client, clock)
        finisher = Finisher(sessions, config, clock, on_change)
        self.executor = Executor(sessions, config, clock, self.backends, self.health, finisher)
        self.bake_outcome = BakeOutcome(sessions, config, clock, self.backends, finisher)
        self.recovery = Recovery(sessions, self.backends, finisher)
        self.requests = Requests(
            sessions, config, clock, self.backends, self.directory, self.executor.run
        )
        self.bake_watch = BakeWatch(self.wake)
        self.analysis = BakeAnalysis(sessions, config, clock, prometheus, self.wake)
        self.charts = BakeCharts(sessions, self.analysis, clock, prometheus)
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loop: asyncio.Task[None] | None = None

    def register_kind(self, kind: ApprovalKind) -> None:
        """Another feature's approval requests (runbook steps) use the same reactions,
        expiry sweep and restart recovery."""
        self.requests.register(kind)

    # --- work caused by Slack requests ---------------------------------------------

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(self._guard(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guard(self, work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except Exception:
            log.exception("operations work failed")
        finally:
            self._on_outbox()

    async def command(self, command: str, text: str, user: str, channel: str) -> str:
        """What to acknowledge with at once: the usage, help or limit, or that the request
        was received and where it goes (it continues in the background)."""
        parsed = await self.requests.parse(command, text, user, channel)
        if isinstance(parsed, str):
            return parsed
        if isinstance(parsed, StatusQuery):
            self.spawn(self.requests.status(parsed))
            return STATUS_RECEIVED
        self.spawn(self._request(parsed))
        return received(parsed.request, self.config)

    def force_again(self, *, request_id: str, user: str, channel: str, ts: str) -> None:
        """The frozen request's button: the same command again with `--force`."""
        self.spawn(self._force_again(request_id, user, channel, ts))

    async def _force_again(self, request_id: str, user: str, channel: str, ts: str) -> None:
        answer = await self.requests.force_again(request_id, user, channel, ts)
        if answer is not None:
            await self.requests.tell(channel, user, answer)

    async def _request(self, parsed: Parsed) -> None:
        await self.requests.request(parsed)

    def reaction(
        self, *, event_id: str, user: str, reaction: str, channel: str, ts: str, added: bool
    ) -> None:
        self.spawn(
            self.requests.reaction(
                event_id=event_id,
                user=user,
                reaction=reaction,
                channel=channel,
                ts=ts,
                added=added,
            )
        )

    async def settle(self) -> None:
        """Wait until the work caused by Slack requests so far is done."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # --- timers --------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    async def sweep(self) -> None:
        """Expire due requests, run due bake analyses, act on alerts and failed analyses
        during bakes, finish bakes, chart the bakes that ended."""
        await self.requests.expire_due()
        await self.analysis.run_due()
        await self.bake_outcome.handle_bake_alerts()
        await self.bake_outcome.finish_bakes()
        await self.charts.post_due()
        self._on_outbox()

    async def _run(self, interval: float) -> None:
        while True:
            self._wake.clear()
            try:
                await self.sweep()
                await self.requests.forget_old_receipts()
            except Exception:
                log.exception("operations sweep failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=interval)

    async def start(self, *, run_workers: bool, interval: float = 5.0) -> None:
        """Report operations cut off by the last stop, then start the sweep loop."""
        try:
            await self.recovery.recover()
        except Exception:
            log.exception("could not check for interrupted operations")
        for kind in self.requests.kinds.values():
            try:
                await kind.recover()
            except Exception:
                log.exception("could not check for interrupted %s requests", kind.kind)
        self._on_outbox()
        if run_workers:
            self._loop = asyncio.create_task(self._run(interval), name="operations")

    async def stop(self) -> None:
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
            self._loop = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self.backends.aclose()
