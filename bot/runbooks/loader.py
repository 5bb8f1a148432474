"""Loading and checking runbooks/*.yml. Every mistake is reported as `file:line: problem`.

PyYAML's node tree (compose) keeps line numbers, so the checks walk nodes rather than the plain dict.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot.data import data_dir
from bot.runbooks.model import Runbook, Step

RUNBOOKS_DIR = data_dir("runbooks")
NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
SEVERITY = re.compile(r"^sev[0-9]$")
MAX_STEPS = 60
TOP_KEYS = {"name", "title", "owner", "applies_when", "steps"}
WHEN_KEYS = {"services", "keywords", "severities"}
STEP_KEYS = {"title", "detail", "expected", "escalate_on_failure"}
LIMITS = {"title": 100, "owner": 100, "step.title": 150, "step.detail": 2000, "step.expected": 300}


@dataclass(frozen=True)
class Problem:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class RunbookError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(str(problems[0]) if problems else "invalid runbooks")
        self.problems = problems


def _line(node: Node) -> int:
    return node.start_mark.line + 1


class _Checker:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.shown = str(path)
        self.problems: list[Problem] = []

    def fail(self, node_or_line: Node | int, message: str) -> None:
        line = node_or_line if isinstance(node_or_line, int) else _line(node_or_line)
        self.problems.append(Problem(self.shown, line, message))

    def mapping(self, node: Node, allowed: set[str], where: str) -> dict[str, tuple[Node, Node]]:
        if not isinstance(node, MappingNode):
            self.fail(node, f"{where} must be a mapping of keys to values")
            return {}
        found: dict[str, tuple[Node, Node]] = {}
        for key, value in node.value:
            name = key.value if isinstance(key, ScalarNode) else "?"
            if name not in allowed:
                self.fail(key, f"unknown key '{name}' in {where} (allowed: {', '.join(sorted(allowed))})")
            elif name in found:
                self.fail(key, f"key '{name}' appears twice in {where}")
            else:
                found[name] = (key, value)
        return found

    def text(self, entry: tuple[Node, Node] | None, key: str, limit: int | None, *, required: bool, parent: Node) -> str | None:
        if entry is None:
            if required:
                self.fail(parent, f"missing '{key}'")
            return None
        _, value = entry
        if not isinstance(value, ScalarNode) or value.tag == "tag:yaml.org,2002:null":
            self.fail(value, f"'{key}' must be text")
            return None
        text = str(value.value).strip()
        if required and not text:
            self.fail(value, f"'{key}' is empty")
        if limit is not None and len(text) > limit:
            self.fail(value, f"'{key}' is {len(text)} characters; the limit is {limit}")
        return text

    def words(self, entry: tuple[Node, Node] | None, key: str) -> tuple[str, ...]:
        if entry is None:
            return ()
        _, value = entry
        if not isinstance(value, SequenceNode) or not all(isinstance(item, ScalarNode) for item in value.value):
            self.fail(value, f"'{key}' must be a list of words, like [payments, checkout]")
            return ()
        return tuple(str(item.value).strip().lower() for item in value.value)


def check_file(path: Path, known_services: set[str] | None = None) -> tuple[Runbook | None, list[Problem]]:
    checker = _Checker(path)
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        checker.fail((mark.line + 1) if mark else 1, f"not valid YAML: {exc.problem or exc.context}")
        return None, checker.problems
    except (OSError, UnicodeDecodeError) as exc:
        checker.fail(1, f"cannot read: {exc}")
        return None, checker.problems
    if root is None:
        checker.fail(1, "the file is empty")
        return None, checker.problems
    top = checker.mapping(root, TOP_KEYS, "the runbook")
    name = checker.text(top.get("name"), "name", 63, required=True, parent=root)
    if name and not NAME.match(name):
        checker.fail(top["name"][1], f"name '{name}' must be lowercase letters, digits and hyphens")
    elif name and name != path.stem:
        checker.fail(top["name"][1], f"name '{name}' must match the file name '{path.stem}'")
    title = checker.text(top.get("title"), "title", LIMITS["title"], required=True, parent=root)
    owner = checker.text(top.get("owner"), "owner", LIMITS["owner"], required=True, parent=root)
    services: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    if "applies_when" in top:
        when = checker.mapping(top["applies_when"][1], WHEN_KEYS, "applies_when")
        services = checker.words(when.get("services"), "services")
        keywords = checker.words(when.get("keywords"), "keywords")
        severities = checker.words(when.get("severities"), "severities")
        for severity in severities:
            if not SEVERITY.match(severity):
                checker.fail(when["severities"][1], f"'{severity}' is not a severity (sev0…sev9)")
        if known_services is not None:
            for service in services:
                if service not in known_services:
                    checker.fail(when["services"][1], f"service '{service}' is not in the config's services")
    steps: list[Step] = []
    if "steps" not in top:
        checker.fail(root, "missing 'steps'")
    else:
        node = top["steps"][1]
        if not isinstance(node, SequenceNode):
            checker.fail(node, "'steps' must be a list")
        elif not node.value:
            checker.fail(node, "'steps' is empty: a runbook needs at least one step")
        elif len(node.value) > MAX_STEPS:
            checker.fail(node, f"{len(node.value)} steps; the limit is {MAX_STEPS}")
        else:
            for index, item in enumerate(node.value, start=1):
                fields = checker.mapping(item, STEP_KEYS, f"step {index}")
                step_title = checker.text(fields.get("title"), "title", LIMITS["step.title"], required=True, parent=item)
                detail = checker.text(fields.get("detail"), "detail", LIMITS["step.detail"], required=False, parent=item)
                expected = checker.text(fields.get("expected"), "expected", LIMITS["step.expected"], required=False, parent=item)
                escalate = False
                if "escalate_on_failure" in fields:
                    value = fields["escalate_on_failure"][1]
                    if not isinstance(value, ScalarNode) or value.tag != "tag:yaml.org,2002:bool":
                        checker.fail(value, "'escalate_on_failure' must be true or false")
                    else:
                        escalate = value.value.lower() in ("true", "yes", "on")
                if step_title:
                    steps.append(Step(title=step_title, detail=detail or "", expected=expected or None, escalate_on_failure=escalate))
    if checker.problems or not (name and title and owner):
        return None, checker.problems
    return Runbook(name=name, title=title, owner=owner, steps=tuple(steps), services=services, keywords=keywords,
                   severities=severities, source=str(path)), []


def load_dir(directory: Path = RUNBOOKS_DIR, known_services: set[str] | None = None) -> tuple[dict[str, Runbook], list[Problem]]:
    """All runbooks in a directory, and every problem found (duplicates included)."""
    runbooks: dict[str, Runbook] = {}
    problems: list[Problem] = []
    if not directory.is_dir():
        return {}, [Problem(str(directory), 1, "not a directory")]
    for path in sorted(list(directory.glob("*.yml")) + list(directory.glob("*.yaml"))):
        runbook, found = check_file(path, known_services)
        problems.extend(found)
        if runbook is None:
            continue
        if runbook.name in runbooks:
            problems.append(Problem(str(path), 1, f"duplicate name '{runbook.name}' (also in {runbooks[runbook.name].source})"))
            continue
        runbooks[runbook.name] = runbook
    return runbooks, problems


def load_or_raise(directory: Path = RUNBOOKS_DIR, known_services: set[str] | None = None) -> dict[str, Runbook]:
    runbooks, problems = load_dir(directory, known_services)
    if problems:
        raise RunbookError(problems)
    return runbooks
