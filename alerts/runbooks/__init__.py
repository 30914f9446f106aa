"""Runbooks as data: loading and validating the documents in runbooks/, linking an alert
to its runbook, filling step parameters from the alert, and rendering the checklist.

Pure: no Slack, database or Kubernetes calls. The bot loads the runbooks at start
(`load_runbooks`), finds an alert's runbook (`find_runbook`), renders the checklist from
the progress it stores, and hands validated parameters (`resolve_action`) to the step
executors bound to the specs (alerts/runbooks/specs.py) in actions/steps/registry.py.
"""

from alerts.runbooks.linking import RunbookLink, find_runbook, link_runbook, runbook_id_from_url
from alerts.runbooks.loader import RunbookError, load_runbooks, parse_runbook, runbook_files
from alerts.runbooks.matchers import Matcher, MatcherError, matches_all, parse_matcher
from alerts.runbooks.model import Runbook, RunbookSet, Step, StepAction
from alerts.runbooks.render import (
    ButtonError,
    StepButton,
    is_complete,
    no_runbook_text,
    parse_step_button,
    parse_step_click,
    render_checklist,
    render_no_runbook,
    render_refusal,
    render_summary,
    step_button_value,
)
from alerts.runbooks.templates import TemplateError, resolve, resolve_action, template_problems

__all__ = [
    "ButtonError",
    "Matcher",
    "MatcherError",
    "Runbook",
    "RunbookError",
    "RunbookLink",
    "RunbookSet",
    "Step",
    "StepAction",
    "StepButton",
    "TemplateError",
    "find_runbook",
    "is_complete",
    "link_runbook",
    "load_runbooks",
    "matches_all",
    "no_runbook_text",
    "parse_matcher",
    "parse_runbook",
    "parse_step_button",
    "parse_step_click",
    "render_checklist",
    "render_no_runbook",
    "render_refusal",
    "render_summary",
    "resolve",
    "resolve_action",
    "runbook_files",
    "runbook_id_from_url",
    "step_button_value",
    "template_problems",
]
