"""The callback_ids and action_ids sevbot posts, and the declare modal's block_ids (one enum per kind of id).

Button *values* go through `bot/core/actions.py`. `tests/test_handlers_cover_ids.py` proves every action id and
callback id the bot posts has a listener."""
from __future__ import annotations

from enum import StrEnum


class CallbackId(StrEnum):
    DECLARE_MODAL = "declare_modal"
    ASSIGN_ROLE = "assign_role_modal"
    RUNBOOK_FAILURE_NOTE = "runbook_failure_note_modal"
    UPDATE_MODAL = "stakeholder_update_modal"
    ESCALATE_MODAL = "escalate_modal"
    RESOLVE_MODAL = "resolve_modal"
    # A message shortcut (manifest.yml features.shortcuts): Slack sends it as a message_action payload.
    ADD_TO_TIMELINE = "add_to_timeline"


class DeclareBlock(StrEnum):
    TITLE = "declare_title"
    SEVERITY = "declare_severity"
    SCOPE = "declare_scope"
    SERVICE = "declare_service"
    DESCRIPTION = "declare_description"
    SUGGESTION = "declare_suggestion"


class ActionId(StrEnum):
    DECLARE_TITLE = "declare_title_input"
    DECLARE_SEVERITY = "declare_severity_select"
    DECLARE_SCOPE = "declare_scope_choice"
    DECLARE_SERVICE = "declare_service_select"
    DECLARE_DESCRIPTION = "declare_description_input"
    TAKE_COMMAND = "card_take_command"
    PICK_ROLE = "card_pick_role"
    ASSIGN_ROLE_USER = "assign_role_user_select"
    RUNBOOK_STEP_DONE = "runbook_step_done"
    RUNBOOK_STEP_SKIP = "runbook_step_skip"
    RUNBOOK_STEP_FAILED = "runbook_step_failed"
    RUNBOOK_NOTE = "runbook_failure_note_input"
    PAGE_ACK = "page_acknowledge"
    OPEN_UPDATE = "open_update_modal"
    OPEN_ESCALATE = "open_escalate_modal"
    OPEN_RESOLVE = "card_resolve"
    ALERT_ACK = "alert_acknowledge"
    ALERT_DECLARE = "alert_declare"
    ALERT_RESOLVE = "alert_resolve"
    ALERT_SILENCE = "alert_silence"
    HOME_DECLARE = "home_declare"  # the Home tab's Declare incident button
    ONCALL_REMOVE_OVERRIDE = "oncall_remove_override"  # Remove, on `/incident oncall overrides`


# The card numbers its runbook buttons (action ids are unique within a block): card_start_runbook_1, _2, …
START_RUNBOOK_PREFIX = "card_start_runbook_"


# Actions that fire block_actions from inside the declare modal (dispatch_action inputs).
DECLARE_DISPATCH_ACTIONS: frozenset[str] = frozenset({ActionId.DECLARE_SCOPE, ActionId.DECLARE_SERVICE})
