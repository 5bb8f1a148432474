"""The incident policy from a TOML file (`SEVBOT_CONFIG`): severities, roles, channels, responders, services.

Without a file the defaults below apply; they follow the severity tables in the seeds (impact, not complexity).
"""
from __future__ import annotations

import re
import tomllib
from datetime import date, time
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

SEVERITY_KEY = re.compile(r"^sev[0-9]$")
SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
SLACK_GROUP_ID = re.compile(r"^S[A-Z0-9]{2,}$")
SLACK_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")
SCHEDULE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
SCHEDULE_TARGET = re.compile(r"^schedule:(.*)$")
TEMPLATE_FIELDS = {"severity", "date", "slug", "id"}


def _slack_channel(value: str | None) -> str | None:
    if value is not None and not SLACK_CHANNEL_ID.match(value):
        raise ValueError(f"{value!r} is not a Slack channel id (C…)")
    return value


def _slack_people(value: tuple[str, ...]) -> tuple[str, ...]:
    """User ids (U…/W…) and user group ids (S…): who can be invited, paged or allowed."""
    for rid in value:
        if not (SLACK_USER_ID.match(rid) or SLACK_GROUP_ID.match(rid)):
            raise ValueError(f"{rid!r} is not a Slack user id (U…) or user group id (S…)")
    return value


class ConfigError(Exception):
    """The config file is wrong; the message is one line naming the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Severity(_Strict):
    label: str = Field(min_length=1, max_length=40)
    description: str = Field(min_length=1, max_length=150)
    # Slack user ids (U…/W…) and user group ids (S…) invited to every incident of this severity.
    responders: tuple[str, ...] = ()
    # Declaring or raising to this severity pages on-call through `policy` (an escalation policy's name).
    page: bool = False
    policy: str = "default"
    # Stakeholder update cadence in minutes (SEVBOT_UPDATE_INTERVAL overrides every severity).
    update_minutes: float = Field(default=30, gt=0, le=24 * 60)

    _responders = field_validator("responders")(classmethod(lambda cls, value: _slack_people(value)))


class Role(_Strict):
    key: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")
    name: str = Field(min_length=1, max_length=60)
    description: str = Field(min_length=1, max_length=500)


DEFAULT_SEVERITIES: dict[str, Severity] = {
    "sev0": Severity(label="SEV0 · Critical", description="Total outage, data loss or security breach: payments down, customer data at risk. All hands, page everyone now.", page=True, update_minutes=15),
    "sev1": Severity(label="SEV1 · High", description="Major degradation: login or checkout broken, key features down for many users. Immediate response.", page=True, update_minutes=15),
    "sev2": Severity(label="SEV2 · Medium", description="Partial outage or degraded performance; a workaround exists. Core team responds.", update_minutes=30),
    "sev3": Severity(label="SEV3 · Low", description="Minor issue, bug or cosmetic problem for few users. Business-hours response.", update_minutes=60),
}

DEFAULT_ROLES: tuple[Role, ...] = (
    Role(key="ic", name="Incident Commander", description="Owns the incident: acknowledge, stop the bleeding, keep the timeline, stakeholder updates every 15 minutes."),
    Role(key="comms", name="Communications Lead", description="Writes stakeholder updates and the status page, on the promised cadence."),
    Role(key="scribe", name="Scribe", description="Keeps the timeline: decisions, actions and findings, with times."),
    Role(key="ops", name="Ops Lead", description="Drives the technical investigation and the fix."),
)


class Tier(_Strict):
    """One rung of an escalation ladder: who is paged, and how long they have to acknowledge."""

    # User ids (U…), user group ids (S…) and `schedule:<name>` (whoever is on call for that schedule when paged).
    targets: tuple[str, ...] = Field(min_length=1)
    ack_timeout_minutes: float = Field(default=5, gt=0, le=24 * 60)

    @field_validator("targets")
    @classmethod
    def _targets(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for target in value:
            named = SCHEDULE_TARGET.match(target)
            if named is not None:
                if not SCHEDULE_NAME.match(named.group(1)):
                    raise ValueError(f"{target!r} does not name a schedule (schedule:<name>)")
            elif not (SLACK_USER_ID.match(target) or SLACK_GROUP_ID.match(target)):
                raise ValueError(f"{target!r} is not a Slack user id (U…), user group id (S…) or schedule:<name>")
        return value

    @property
    def schedules(self) -> tuple[str, ...]:
        """The schedules this tier names, in order."""
        return tuple(m.group(1) for m in map(SCHEDULE_TARGET.match, self.targets) if m is not None)


class EscalationPolicy(_Strict):
    tiers: tuple[Tier, ...] = Field(min_length=1)
    # How many times the whole ladder is walked before sevbot says plainly that nobody answered.
    repeat: int = Field(default=1, ge=1, le=10)
    # Paged together with tier 1 on the critical path (SEV0, critical services).
    escalation_contact: tuple[str, ...] = ()

    _contacts = field_validator("escalation_contact")(classmethod(lambda cls, value: _slack_people(value)))




WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ROTATION = re.compile(r"^(daily|weekly|([1-9][0-9]{0,2})([dh]))$")
CLOCK = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")


def _clock(value: str) -> str:
    if not CLOCK.match(value):
        raise ValueError(f"{value!r} is not a time of day HH:MM (00:00 to 23:59)")
    return value


def parse_clock(value: str) -> time:
    return time.fromisoformat(value)  # "HH:MM", already checked by _clock


class Restriction(_Strict):
    """A window a layer covers, on each of `days` from `start` to `end` (local). An end at or before the start runs
    into the next day (18:00–09:00 is a night; 00:00–00:00 a whole day)."""

    days: tuple[str, ...] = WEEKDAYS
    start: str
    end: str

    _times = field_validator("start", "end")(classmethod(lambda cls, value: _clock(value)))

    @field_validator("days")
    @classmethod
    def _days(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError(f"list at least one day of {', '.join(WEEKDAYS)}")
        for day in value:
            if day not in WEEKDAYS:
                raise ValueError(f"{day!r} is not one of {', '.join(WEEKDAYS)}")
        return value

    @cached_property
    def weekdays(self) -> frozenset[int]:
        """The days as date.weekday() numbers (Monday is 0)."""
        return frozenset(WEEKDAYS.index(day) for day in self.days)

    @cached_property
    def start_time(self) -> time:
        return parse_clock(self.start)

    @cached_property
    def end_time(self) -> time:
        return parse_clock(self.end)


class Layer(_Strict):
    """People taking turns: users[0] from `start` at `handoff` (local), the next one every rotation period."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,39}$")
    users: tuple[str, ...]
    # "daily", "weekly", "<N>d" (every N days at the hand-off time) or "<N>h" (every N hours of elapsed time).
    rotation: str = "weekly"
    handoff: str = "09:00"
    start: date
    restrictions: tuple[Restriction, ...] = ()

    _handoff = field_validator("handoff")(classmethod(lambda cls, value: _clock(value)))

    @field_validator("users")
    @classmethod
    def _users(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("a layer needs at least one person (a Slack user id, U…)")
        for user in value:
            if not SLACK_USER_ID.match(user):
                raise ValueError(f"{user!r} is not a Slack user id (U…)")
        return value

    @field_validator("rotation")
    @classmethod
    def _rotation(cls, value: str) -> str:
        found = ROTATION.match(value)
        if found is None:
            raise ValueError(f'{value!r} is not a rotation: "daily", "weekly", "<N>d" or "<N>h" (N from 1)')
        if found.group(3) == "h" and int(found.group(2)) > 24 * 14:
            raise ValueError(f"{value!r} is longer than two weeks; use days")
        return value

    @cached_property
    def period(self) -> tuple[int, str]:
        """(N, "d") for a rotation on the local calendar, (N, "h") for one on elapsed time."""
        if self.rotation == "daily":
            return 1, "d"
        if self.rotation == "weekly":
            return 7, "d"
        return int(self.rotation[:-1]), self.rotation[-1]

    @cached_property
    def handoff_time(self) -> time:
        return parse_clock(self.handoff)


class Schedule(_Strict):
    """An on-call schedule: layers in a time zone; a later layer wins where it covers a time."""

    time_zone: str
    layers: tuple[Layer, ...] = Field(min_length=1)
    # The secret in the calendar feed's URL (>= 16 characters), or (better) the environment variable that holds it.
    calendar_secret: SecretStr | None = Field(default=None, min_length=16)
    calendar_secret_env: str | None = Field(default=None, pattern=r"^[A-Z_][A-Z0-9_]*$")
    # A Slack user group kept equal to whoever is on call.
    usergroup: str | None = None

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as Europe/Berlin)") from None
        return value

    @field_validator("usergroup")
    @classmethod
    def _usergroup(cls, value: str | None) -> str | None:
        if value is not None and not SLACK_GROUP_ID.match(value):
            raise ValueError(f"{value!r} is not a Slack user group id (S…)")
        return value

    @field_validator("layers")
    @classmethod
    def _layer_names(cls, value: tuple[Layer, ...]) -> tuple[Layer, ...]:
        names = [layer.name for layer in value]
        if len(set(names)) != len(names):
            raise ValueError("layer names must be unique within a schedule")
        if "override" in names:
            raise ValueError('"override" is reserved for overrides; name the layer otherwise')
        return value

    @model_validator(mode="after")
    def _one_secret(self) -> "Schedule":
        if self.calendar_secret is not None and self.calendar_secret_env is not None:
            raise ValueError("set at most one of calendar_secret or calendar_secret_env")
        return self

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


ALERT_SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ALERT_KINDS = ("alertmanager", "grafana", "events-v2")
ALERT_ACTIONS = ("page", "declare", "notify", "drop")
# The alert's own `severity` label → a sevbot severity, unless a route says otherwise.
DEFAULT_ALERT_SEVERITIES: dict[str, str] = {"critical": "sev1", "error": "sev2", "high": "sev2", "warning": "sev3",
                                            "info": "sev3"}


class AlertSource(_Strict):
    """Where alerts come from: `POST /alerts/<name>` with `Authorization: Bearer <token>` (or, for events-v2, the
    token as the body's `routing_key`)."""

    kind: str
    # The secret itself, or (better) the environment variable that holds it.
    token: SecretStr | None = Field(default=None, min_length=16)
    token_env: str | None = Field(default=None, pattern=r"^[A-Z_][A-Z0-9_]*$")
    # Requests a minute before the answer is 429 with Retry-After (Alertmanager retries).
    rate_limit_per_minute: int = Field(default=120, ge=1, le=100_000)

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        if value not in ALERT_KINDS:
            raise ValueError(f"{value!r} is not one of {', '.join(ALERT_KINDS)}")
        return value

    @model_validator(mode="after")
    def _one_token(self) -> "AlertSource":
        if (self.token is None) == (self.token_env is None):
            raise ValueError("set exactly one of token or token_env")
        return self


class AlertRoute(_Strict):
    """Matches an alert group's labels (all conditions must hold) and decides what sevbot does with it."""

    name: str = Field(default="", max_length=64)
    # Label equals value.
    match: dict[str, str] = Field(default_factory=dict)
    # Label matches the regular expression (anchored, as in Alertmanager).
    match_re: dict[str, str] = Field(default_factory=dict)
    # Labels that must be absent.
    absent: tuple[str, ...] = ()
    # Limit the route to some sources (unset: all).
    sources: tuple[str, ...] = ()
    action: str = "page"
    service: str | None = None
    # A fixed severity, or else the alert's `severity` label through severity_map, or else default_severity.
    severity: str | None = None
    severity_map: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_ALERT_SEVERITIES))
    policy: str | None = None
    runbook: str | None = None
    channel: str | None = None

    @field_validator("action")
    @classmethod
    def _action(cls, value: str) -> str:
        if value not in ALERT_ACTIONS:
            raise ValueError(f"{value!r} is not one of {', '.join(ALERT_ACTIONS)}")
        return value

    @field_validator("match_re")
    @classmethod
    def _patterns(cls, value: dict[str, str]) -> dict[str, str]:
        for label, pattern in value.items():
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{label}: {pattern!r} is not a regular expression ({exc})") from None
        return value

    _channel = field_validator("channel")(classmethod(lambda cls, value: _slack_channel(value)))

    def matches(self, source: str, labels: dict[str, str]) -> bool:
        if self.sources and source not in self.sources:
            return False
        if any(labels.get(key) != value for key, value in self.match.items()):
            return False
        if any(re.fullmatch(pattern, labels.get(key, "")) is None for key, pattern in self.match_re.items()):
            return False
        return not any(key in labels for key in self.absent)


class Alerts(_Strict):
    """Alert sources, and the ordered routes that decide what each alert group does (the first match wins)."""

    sources: dict[str, AlertSource] = Field(default_factory=dict)
    routes: tuple[AlertRoute, ...] = ()
    # What no route matched: this route (page on the default policy, in `channel`).
    default: AlertRoute = AlertRoute(name="default")
    # Where alert messages go unless the route names a channel.
    channel: str | None = None
    # An alert firing again this soon after its group resolved re-opens the group instead of paging afresh.
    flap_minutes: float = Field(default=10, ge=0)

    @field_validator("sources")
    @classmethod
    def _names(cls, value: dict[str, AlertSource]) -> dict[str, AlertSource]:
        for name in value:
            if not ALERT_SOURCE_NAME.match(name):
                raise ValueError(f"{name!r} is not a source name (lowercase letters, digits, - and _)")
        return value

    _channel = field_validator("channel")(classmethod(lambda cls, value: _slack_channel(value)))

    def route(self, source: str, labels: dict[str, str]) -> AlertRoute:
        return next((route for route in self.routes if route.matches(source, labels)), self.default)


PERMISSION_TOKEN = re.compile(r"^(anyone|ic|[UW][A-Z0-9]{2,}|S[A-Z0-9]{2,})$")


class Permissions(_Strict):
    """Who may do what: "anyone", "ic" (the current Incident Commander), user ids (U…) or user groups (S…)."""

    change_severity: tuple[str, ...] = ("anyone",)
    hand_over_ic: tuple[str, ...] = ("anyone",)
    resolve: tuple[str, ...] = ("ic",)

    @field_validator("change_severity", "hand_over_ic", "resolve")
    @classmethod
    def _tokens(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError('list at least one of "anyone", "ic", a user id (U…) or a user group id (S…)')
        for token in value:
            if not PERMISSION_TOKEN.match(token):
                raise ValueError(f'{token!r} is not "anyone", "ic", a user id (U…) or a user group id (S…)')
        return value


class IncidentConfig(_Strict):
    default_severity: str = "sev2"
    stakeholder_channel: str | None = None
    channel_name_template: str = "{severity}-{date}-{slug}"
    services: tuple[str, ...] = ("payments", "checkout", "login", "inventory", "database", "search", "api")
    critical_services: tuple[str, ...] = ("payments", "checkout", "login", "database")
    severities: dict[str, Severity] = Field(default_factory=lambda: dict(DEFAULT_SEVERITIES))
    roles: tuple[Role, ...] = DEFAULT_ROLES
    # The status list in order; the last one closes the incident.
    statuses: tuple[str, ...] = ("investigating", "identified", "monitoring", "resolved")
    # Allowed moves; unset means any move between open statuses, and into the closing one.
    status_transitions: dict[str, tuple[str, ...]] | None = None
    permissions: Permissions = Permissions()
    # Reacting with this emoji (name without colons) on a message in an incident channel adds it to the timeline.
    pin_reaction: str = Field(default="pushpin", pattern=r"^[a-z0-9_+'-]+$")
    # Without any policy sevbot cannot page: a severity that pages records the request and says to page by hand.
    escalation_policies: dict[str, EscalationPolicy] = Field(default_factory=dict)
    # A service's own policy wins over its severity's.
    service_policies: dict[str, str] = Field(default_factory=dict)
    # Critical path: a page here (and any SEV0 page) goes to tier 1 and the escalation contact at once.
    critical_path_services: tuple[str, ...] = ("payments", "login", "database")
    # After resolve: remind the IC to write the postmortem every this many hours until its link is recorded.
    postmortem_reminder_hours: float = Field(default=24, gt=0)
    # Archive the incident channel this many days after resolve (unset: never).
    archive_after_days: float | None = Field(default=None, gt=0)
    # Prompt the IC to escalate when a runbook has run this long with the incident still in its first status.
    runbook_escalation_minutes: float = Field(default=15, gt=0)
    alerts: Alerts = Alerts()
    # On-call schedules by name; escalation tiers page them as `schedule:<name>`.
    schedules: dict[str, Schedule] = Field(default_factory=dict)

    @field_validator("schedules")
    @classmethod
    def _schedule_names(cls, value: dict[str, Schedule]) -> dict[str, Schedule]:
        for name in value:
            if not SCHEDULE_NAME.match(name):
                raise ValueError(f"{name!r} is not a schedule name (lowercase letters, digits, - and _)")
        return value

    @field_validator("severities")
    @classmethod
    def _severity_keys(cls, value: dict[str, Severity]) -> dict[str, Severity]:
        if not value:
            raise ValueError("at least one severity is needed")
        for key in value:
            if not SEVERITY_KEY.match(key):
                raise ValueError(f"{key!r} is not a severity key (sev0…sev9)")
        return dict(sorted(value.items()))

    _channel_id = field_validator("stakeholder_channel")(classmethod(lambda cls, value: _slack_channel(value)))

    @field_validator("channel_name_template")
    @classmethod
    def _template_fields(cls, value: str) -> str:
        fields = set(re.findall(r"{(\w*)}", value))
        unknown = fields - TEMPLATE_FIELDS
        if unknown:
            raise ValueError(f"unknown field {{{sorted(unknown)[0]}}}; use {{severity}}, {{date}}, {{slug}} or {{id}}")
        if not fields & {"slug", "id"}:
            raise ValueError("needs {slug} or {id} so channel names differ")
        return value

    @field_validator("roles")
    @classmethod
    def _roles_have_ic(cls, value: tuple[Role, ...]) -> tuple[Role, ...]:
        keys = [r.key for r in value]
        if "ic" not in keys:
            raise ValueError("the role list must include key 'ic' (Incident Commander)")
        if len(set(keys)) != len(keys):
            raise ValueError("role keys must be unique")
        return value

    @field_validator("statuses")
    @classmethod
    def _statuses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(value) < 2:
            raise ValueError("at least an open and a closing status are needed")
        if len(set(value)) != len(value):
            raise ValueError("statuses must be unique")
        for status in value:
            if not re.match(r"^[a-z][a-z0-9_-]{0,31}$", status):
                raise ValueError(f"{status!r} must be a lowercase word")
        return value

    @model_validator(mode="after")
    def _references(self) -> "IncidentConfig":
        if self.default_severity not in self.severities:
            raise ValueError(f"default_severity {self.default_severity!r} is not one of the severities")
        missing = set(self.critical_services) - set(self.services)
        if missing:
            raise ValueError(f"critical_services names {sorted(missing)[0]!r}, which is not in services")
        for key, severity in self.severities.items():
            if self.escalation_policies and severity.page and severity.policy not in self.escalation_policies:
                raise ValueError(f"severities.{key}.policy {severity.policy!r} is not one of the escalation_policies")
        for name, policy in self.escalation_policies.items():
            for index, tier in enumerate(policy.tiers):
                for schedule in tier.schedules:
                    if schedule not in self.schedules:
                        raise ValueError(f"escalation_policies.{name}.tiers.{index}.targets names schedule "
                                         f"{schedule!r}, which is not one of the schedules")
        for service, policy in self.service_policies.items():
            if policy not in self.escalation_policies:
                raise ValueError(f"service_policies.{service} names {policy!r}, which is not one of the escalation_policies")
        for index, route in enumerate((*self.alerts.routes, self.alerts.default)):
            where = f"alerts.routes.{index}" if index < len(self.alerts.routes) else "alerts.default"
            # The built-in severity_map may name severities a policy left out: those fall back to default_severity.
            mapped = route.severity_map.values() if "severity_map" in route.model_fields_set else ()
            for severity in filter(None, (route.severity, *mapped)):
                if severity not in self.severities:
                    raise ValueError(f"{where} names severity {severity!r}, which is not one of the severities")
            if route.policy is not None and route.policy not in self.escalation_policies:
                raise ValueError(f"{where}.policy {route.policy!r} is not one of the escalation_policies")
            if route.service is not None and route.service not in self.services:
                raise ValueError(f"{where}.service {route.service!r} is not in services")
            if route.action != "drop" and route.channel is None and self.alerts.channel is None and self.alerts.sources:
                raise ValueError(f"{where} has no channel and alerts.channel is not set: where would its messages go?")
            unknown = set(route.sources) - set(self.alerts.sources)
            if unknown:
                raise ValueError(f"{where}.sources names {sorted(unknown)[0]!r}, which is not one of alerts.sources")
        for source, targets in (self.status_transitions or {}).items():
            for status in (source, *targets):
                if status not in self.statuses:
                    raise ValueError(f"status_transitions names {status!r}, which is not in statuses")
        return self

    @property
    def open_status(self) -> str:
        return self.statuses[0]

    @property
    def closed_status(self) -> str:
        return self.statuses[-1]

    def can_move(self, current: str, target: str) -> bool:
        if current == target or target not in self.statuses:
            return False
        if self.status_transitions is not None:
            return target in self.status_transitions.get(current, ())
        return current != self.closed_status

    def policy_for(self, severity: str, service: str | None) -> tuple[str, EscalationPolicy] | None:
        if not self.escalation_policies:
            return None
        name = self.service_policies.get(service or "") or self.severities[severity].policy
        if name not in self.escalation_policies:
            name = next(iter(self.escalation_policies))
        return name, self.escalation_policies[name]

    def alert_policy(self, route: AlertRoute, severity: str, service: str | None) -> tuple[str, EscalationPolicy] | None:
        """The route's own policy, or the one its severity and service would page."""
        if route.policy is not None:
            return route.policy, self.escalation_policies[route.policy]
        return self.policy_for(severity, service)

    def on_critical_path(self, severity: str, service: str | None) -> bool:
        return severity == "sev0" or (service is not None and service in self.critical_path_services)

    def role(self, key: str) -> Role | None:
        return next((r for r in self.roles if r.key == key), None)

    def severity(self, key: str) -> Severity:
        return self.severities[key]

    def is_critical(self, service: str | None) -> bool:
        return service is not None and service in self.critical_services


def load_config(path: Path | None) -> IncidentConfig:
    """Read and check the TOML policy; errors become one line: `file: key: problem`."""
    if path is None:
        return IncidentConfig()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        return IncidentConfig.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"])
        msg = first["msg"].removeprefix("Value error, ")
        raise ConfigError(f"{path}: {key}: {msg}" if key else f"{path}: {msg}") from None
