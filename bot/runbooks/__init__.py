"""Interactive runbooks in the running bot: linking at intake, the checklist in the alert's
thread, progress per alert group in the database, and the step actions behind Run.

The runbook documents, matching, templates and rendering are plain data in
`alerts.runbooks`; this package is the part that touches Slack (through the outbox), the
database and the outside world (through the executors bound to the step registry).
"""
