"""Workflow annotations (`::warning file=…,line=…::`) for kbctl's findings: `kbctl_ci.py
plan-annotations PLAN.json` (findings of a plan file; kbctl-run.sh does not call it, `kbctl plan`
annotates itself when GITHUB_ACTIONS=true) and `validate-annotations STDERR` (validate's warnings).
Standard library only.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any


def load_plan(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""


def repo_path(path: str) -> str:
    """`path` relative to the repository root, as annotations need it."""
    root = os.environ.get("GITHUB_WORKSPACE") or os.getcwd()
    absolute = os.path.abspath(path)
    relative = os.path.relpath(absolute, os.path.abspath(root))
    return path if relative.startswith("..") else relative


def plan_annotations(plan_path: Path) -> list[str]:
    plan = load_plan(plan_path)
    if plan is None:
        return []
    lines: list[str] = []
    holders = [a for a in plan.get("agents", []) if isinstance(a, dict)] or [plan]
    for holder in holders:
        manifest = holder.get("manifest")
        for finding in holder.get("findings", []) or []:
            if not isinstance(finding, dict):
                continue
            severity = finding.get("severity")
            kind = {"error": "error", "warning": "warning"}.get(str(severity))
            if kind is None:
                continue
            message = str(finding.get("message", ""))
            if finding.get("key") and not message.startswith(str(finding["key"])):
                message = f"{finding['key']}: {message}"
            file = finding.get("file") or manifest
            props = f" file={escape_property(repo_path(str(file)))}" if file else ""
            line = finding.get("line")
            if file and isinstance(line, int) and not isinstance(line, bool):
                props += f",line={line}"
            title = f"kbctl plan {plan.get('environment', '')}".strip()
            props += ("," if props else " ") + f"title={escape_property(title)}"
            lines.append(f"::{kind}{props}::{escape_data(message)}")
    return lines


WARNING_AT = re.compile(r"^(?P<file>[^:\s][^:]*):(?P<line>\d+)(?: at (?P<path>\S+))?: (?P<msg>.*)$")


def validate_annotations(stderr_path: Path) -> list[str]:
    """`Warning: FILE:LINE at PATH: message` lines → `::warning file=…,line=…::PATH: message`."""
    lines = []
    for line in read(stderr_path).splitlines():
        if not line.startswith("Warning: "):
            continue
        text = line[len("Warning: ") :]
        match = WARNING_AT.match(text)
        if match is None:
            lines.append(f"::warning title=kbctl validate::{escape_data(text)}")
            continue
        message = match["msg"] if not match["path"] else f"{match['path']}: {match['msg']}"
        props = f"file={escape_property(repo_path(match['file']))},line={match['line']}"
        lines.append(f"::warning {props},title=kbctl validate::{escape_data(message)}")
    return lines


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")
