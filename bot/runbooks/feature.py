"""The runbook feature as the Service builds it: runbooks loaded and checked at start,
a step registry of its own with the executors bound, the intake linker and the use cases."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.alertmanager import AlertmanagerClient
from actions.steps.registry import StepRegistry, build_registry
from alerts.runbooks import RunbookSet, load_runbooks
from bot.clock import Clock
from bot.runbooks.approvals import ApprovalNotConnected, StepApprovals
from bot.runbooks.config import RunbooksConfig
from bot.runbooks.executors import KubeConnector, bind_executors
from bot.runbooks.linking import RunbookLinker
from bot.runbooks.steps import RunbookSteps


def runbooks_directory(config: RunbooksConfig) -> Path:
    from bot.runbooks_cli import default_directory

    return Path(config.directory) if config.directory else default_directory()


class RunbookFeature:
    """Raises alerts.runbooks.RunbookError (every problem as file:line) when a runbook is
    broken, so that `serve` stops instead of posting alerts with missing checklists."""

    def __init__(
        self,
        config: RunbooksConfig,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        alertmanager: Callable[[], AlertmanagerClient | None],
        approvals: StepApprovals | None = None,
    ) -> None:
        self.config = config
        # A registry per Service: tests run several services in one process.
        self.registry: StepRegistry = build_registry()
        self.runbooks: RunbookSet = load_runbooks(
            runbooks_directory(config), registry=self.registry
        )
        self.kube = KubeConnector(config.kubernetes, max_replicas=config.scale_max)
        bind_executors(self.registry, kube=self.kube, alertmanager=alertmanager, clock=clock)
        self.linker = RunbookLinker(self.runbooks)
        self.steps = RunbookSteps(
            sessions,
            clock,
            self.runbooks,
            self.registry,
            approvals or ApprovalNotConnected(),
            scale_max=config.scale_max,
        )

    async def close(self) -> None:
        await self.kube.close()
