"""The audit trail: events written in the caller's transaction, hash-chained, and the audit CLI."""
