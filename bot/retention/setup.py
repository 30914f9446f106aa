"""Building the pruner from the config and the environment (the service wires it)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.retention.config import RetentionConfig
from bot.retention.figures import RetentionFigures
from bot.retention.pruning import Pruner
from bot.startup import StartupError


def build_pruner(
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    config: RetentionConfig,
    audit_key: SecretStr | None,
    registry: CollectorRegistry,
) -> Pruner:
    key = audit_key.get_secret_value() if audit_key is not None else ""
    if config.audit != "keep" and not key:
        raise StartupError(
            "retention.audit prunes the audit log, which needs CHATOPS_AUDIT_KEY to sign its "
            "checkpoint: set it (a long random secret), or set retention.audit: keep"
        )
    figures = RetentionFigures(registry, clock)
    return Pruner(sessions, clock, config, on_pruned=figures.record, audit_key=key or None)
