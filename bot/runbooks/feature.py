"""The runbook feature as the Service builds it: runbooks loaded and checked at start,
a step registry of its own with the executors bound, the intake linker and the use cases.

Given the shared approval flow (the operations feature runs it), steps that change things
are approved by reaction through it (a `runbook_step` kind, bot/runbooks/approvals.py), and
who may click Run, Done and Skip (`runbooks.oncall`, else the alert's responders) is
resolved with its cached user-group directory."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.alertmanager import AlertmanagerClient, SilenceError, silence_breadth
from actions.kube.client import KubeApiError
from actions.kube.operations import KubeConnector
from actions.steps.registry import StepRegistry, build_registry
from alerts.config import AlertsConfig
from alerts.policy import PriorityRules
from alerts.responders import decide
from alerts.runbooks import RunbookSet, load_runbooks
from alerts.runbooks.targets import TargetScope, scope_for
from bot.alerts.responders import may_respond
from bot.approvals.kinds import ApprovalFlow
from bot.clock import Clock
from bot.metrics import Metrics
from bot.runbooks.approval_request import StepApprovalRequest, StepApprovals
from bot.runbooks.approvals import ApprovalNotConnected, ReactionStepApprovals
from bot.runbooks.config import RunbooksConfig
from bot.runbooks.counts import RunbookCounts
from bot.runbooks.executors import bind_executors
from bot.runbooks.intake_link import RunbookLinker
from bot.runbooks.steps import RunbookSteps

log = logging.getLogger(__name__)


def runbooks_directory(config: RunbooksConfig) -> Path:
    from bot.runbooks.cli import default_directory

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
        metrics: Metrics,
        alertmanager: Callable[[], AlertmanagerClient | None],
        approvals: StepApprovals | None = None,
        approval_flow: ApprovalFlow | None = None,
        priorities: PriorityRules | None = None,
        alerts: AlertsConfig | None = None,
    ) -> None:
        """`alerts`: whose routes' `responders` (else `alerts.responders`) may click Run,
        Done and Skip when `runbooks.oncall` is unset. `metrics`: the service's, where the
        runbook figures are counted."""
        self.config = config
        self.counts = RunbookCounts(metrics)
        self.alerts = alerts
        self.sessions = sessions
        # A registry per Service: tests run several services in one process.
        self.registry: StepRegistry = build_registry()
        self.runbooks: RunbookSet = load_runbooks(
            runbooks_directory(config), registry=self.registry
        )
        self.kube = KubeConnector(config.kubernetes.client_factory(), max_replicas=config.scale_max)
        bind_executors(
            self.registry,
            kube=self.kube,
            alertmanager=alertmanager,
            clock=clock,
        )
        self.linker = RunbookLinker(self.runbooks, priorities)
        self.approval_flow = approval_flow
        self.approvals: ReactionStepApprovals | None = None
        if approvals is None and approval_flow is not None:
            self.approvals = ReactionStepApprovals(
                sessions,
                clock,
                config,
                approval_flow.config,
                approval_flow.directory,
                self.counts,
            )
            self.approvals.connect(self._run_approved)
            approval_flow.register_kind(self.approvals)
        self.steps = RunbookSteps(
            sessions,
            clock,
            self.runbooks,
            self.registry,
            approvals or self.approvals or ApprovalNotConnected(),
            counts=self.counts,
            scale_max=config.scale_max,
            may_run=self._may_run,
            scope_of=self._scope_of,
            workload_labels=self._workload_labels,
            silence_breadth=self._silence_breadth,
        )
        self._alertmanager = alertmanager

    async def _run_approved(
        self, request: StepApprovalRequest, approved_by: str
    ) -> tuple[bool, str]:
        answer = await self.steps.run_approved(request, approved_by=approved_by)
        return answer.ok, answer.ephemeral

    async def _may_run(self, user: str, group_id: int) -> bool:
        """Whether `user` may click Run, Done or Skip on this group's checklist: the members
        of `runbooks.oncall` when it is set, else the group's responders, exactly those who
        may Acknowledge and Silence it (its route's `responders`, else `alerts.responders`;
        both unset: anyone who sees it). `runbooks.oncall` goes through the same rule
        (alerts/responders.py) as a list of responders. User groups are read from Slack
        through the approval flow's cached directory; without it only user ids count."""
        principals = self.config.oncall
        if principals is None:
            if self.alerts is None:
                return True
            return await may_respond(
                self.sessions,
                self.alerts,
                group_id=group_id,
                user=user,
                members=self._members,
            )
        decision = decide(principals, user)
        for user_group in decision.ask:
            if user in await self._members(user_group):
                return True
        return decision.allowed

    def _scope_of(self, labels: Mapping[str, str]) -> TargetScope:
        """The allow-lists for an alert group with `labels`: its route's, else the global."""
        return scope_for(labels, self.alerts, self.config.targets, self.config.http_hosts)

    async def _workload_labels(self, namespace: str, name: str) -> dict[str, str] | None:
        """A Deployment's labels for a label-selector allow-list; None when it cannot be read
        (then only names allow it)."""
        try:
            ops = await self.kube.operations()
            return await ops.deployment_labels(namespace, name)
        except (KubeApiError, ValueError) as exc:
            log.info("no labels of Deployment %s/%s: %s", namespace, name, exc)
            return None

    async def _silence_breadth(self, labels: Mapping[str, str], ours: frozenset[str]) -> str | None:
        """Why a silence step's matchers reach beyond the group, for its approval request;
        None when they do not or Alertmanager cannot say (the step checks again)."""
        client = self._alertmanager()
        if client is None:
            return None
        try:
            return await silence_breadth(client, labels, ours)
        except SilenceError as exc:
            log.info("could not ask Alertmanager how far a silence reaches: %s", exc)
            return None

    async def _members(self, group: str) -> frozenset[str]:
        if self.approval_flow is None:
            return frozenset()
        return await self.approval_flow.directory.members(group)

    async def close(self) -> None:
        await self.kube.close()
