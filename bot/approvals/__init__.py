"""Approval requests of every kind (operations, runbook steps that change things): their
table, ids and stored messages. Both features open and vote on such requests, so what
they share lives here rather than in either of them."""
