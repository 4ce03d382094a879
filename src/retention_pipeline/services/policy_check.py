"""Check order-form files and ``retention.yaml`` the way a careful reviewer would.

Every problem in a file is reported at once, each on its own line with the file, the
line, the field and what to do, because a person fixing a policy should not have to
run the check ten times. The checks, in order:

1. YAML syntax and duplicate keys (``documents.parse_yaml``);
2. each field on its own: types, durations, cron, ids, unknown fields (the models);
3. rules across fields: required-when, min/max ages, locks, separate stores
   (``policy_rules``);
4. references to the installation: stores and connections must exist in ``retention.yaml``;
5. the file name: ``policies/<client>.yaml``, so one file is one client.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from retention_pipeline.domain.diagnostics import problems_from
from retention_pipeline.domain.documents import ParsedDocument, Problem, looks_secret, parse_yaml
from retention_pipeline.domain.ids import CLIENT_ID
from retention_pipeline.domain.policy import DEFER_RULES, ClientPolicy
from retention_pipeline.domain.policy_rules import policy_findings
from retention_pipeline.domain.settings import Settings
from retention_pipeline.errors import ConfigError

POLICY_SUFFIXES = (".yaml", ".yml")
M = TypeVar("M", bound=BaseModel)


def _mapping(parsed: ParsedDocument, start: str) -> list[Problem]:
    """The document must be a non-empty mapping before any field can be checked."""
    if isinstance(parsed.data, dict) or (parsed.problems and parsed.data is None):
        return []
    if parsed.data is None:
        return [Problem.about(parsed.filename, 1, (), "is empty", start)]
    message = "must be a mapping of fields"
    return [Problem.about(parsed.filename, parsed.line_of(()), (), message, start, parsed.data)]


def _validate(
    parsed: ParsedDocument, model: type[M], context: dict[str, Any] | None = None
) -> tuple[M | None, list[Problem]]:
    try:
        return model.model_validate(parsed.data, context=context), []
    except ValidationError as error:
        return None, problems_from(error, parsed, model)


def _finish(value: M | None, problems: list[Problem]) -> tuple[M | None, list[Problem]]:
    unique = {str(p): p for p in problems}
    ordered = sorted(unique.values(), key=lambda p: (p.line, p.path, p.message))
    return (value if not ordered else None), ordered


def _reference(
    parsed: ParsedDocument, path: tuple[str, ...], known: dict[str, Any], section: str
) -> list[Problem]:
    value: Any = parsed.data
    for part in path:
        value = value.get(part) if isinstance(value, dict) else None
    if not isinstance(value, str) or value in known or looks_secret(value):
        return []  # a credential is refused by its field check; never echo it twice
    if known:
        hint = f"use one of: {', '.join(sorted(known))}"
    else:
        hint = f"add it under '{section}:' in retention.yaml"
    message = f"is not one of the {section} of retention.yaml"
    return [Problem.about(parsed.filename, parsed.line_of(path), path, message, hint, value)]


def _references(parsed: ParsedDocument, settings: Settings | None) -> list[Problem]:
    if settings is None:
        return []
    return [
        *_reference(parsed, ("backup", "storage"), settings.stores, "stores"),
        *_reference(parsed, ("archive", "storage"), settings.stores, "stores"),
        *_reference(
            parsed, ("source", "database", "connection"), settings.connections, "connections"
        ),
    ]


def _file_name(parsed: ParsedDocument, policy_client: object) -> list[Problem]:
    name = Path(parsed.filename).name
    stem = Path(parsed.filename).stem
    if not isinstance(policy_client, str) or stem == policy_client:
        return []
    if not CLIENT_ID.fullmatch(policy_client):  # the id itself is reported as invalid
        return []
    return [
        Problem.about(
            parsed.filename, parsed.line_of(("client",)), ("client",),
            f"does not match the file name {name}",
            f"name the file policies/{policy_client}.yaml (one file per client)",
            policy_client,
        )
    ]  # fmt: skip


def check_policy_text(
    text: str, filename: str, settings: Settings | None
) -> tuple[ClientPolicy | None, list[Problem]]:
    """Every problem of one policy file; the policy only when there is none.

    ``settings`` (when given) lets the check verify store and connection names.
    """
    parsed = parse_yaml(text, filename)
    problems = [*parsed.problems, *_mapping(parsed, "start with 'client: <id>'")]
    if not isinstance(parsed.data, dict):
        return _finish(None, problems)
    policy, field_problems = _validate(parsed, ClientPolicy, DEFER_RULES)
    problems += field_problems
    for finding in policy_findings(parsed.data):
        line = parsed.line_of(finding.path)
        problems.append(
            Problem.about(
                filename, line, finding.path, finding.message, finding.hint, *finding.value
            )
        )
    problems += _references(parsed, settings)
    problems += _file_name(parsed, parsed.data.get("client"))
    return _finish(policy, problems)


def check_settings_text(text: str, filename: str) -> tuple[Settings | None, list[Problem]]:
    """Every problem of a ``retention.yaml``; the settings only when there is none.

    An empty file is valid: every setting has an embedded default.
    """
    parsed = parse_yaml(text, filename)
    if parsed.data is None and not parsed.problems:
        return Settings(), []
    problems = [*parsed.problems, *_mapping(parsed, "write 'setting: value' lines")]
    if not isinstance(parsed.data, dict):
        return _finish(None, problems)
    settings, field_problems = _validate(parsed, Settings)
    return _finish(settings, problems + field_problems)


def read_policy_text(path: Path) -> tuple[str | None, list[Problem]]:
    """The file's text, or ``None`` and the problem that says it cannot be read."""
    try:
        return path.read_text(encoding="utf-8"), []
    except (OSError, UnicodeDecodeError):
        hint = "make it a readable UTF-8 text file"
        return None, [Problem(str(path), 1, "-", "cannot be read", None, hint)]


def load_policies(
    folder: Path, settings: Settings | None
) -> tuple[dict[str, ClientPolicy], list[Problem]]:
    """Check every ``*.yaml``/``*.yml`` of a folder (sorted); valid policies by client id.

    Two files naming the same client are a problem on the second one: which order form
    applies would otherwise depend on the order files are read in.
    """
    if not folder.is_dir():
        raise ConfigError(f"{folder}: no such policies folder; create it (one <client>.yaml each)")
    policies: dict[str, ClientPolicy] = {}
    owners: dict[str, str] = {}
    problems: list[Problem] = []
    for path in sorted(p for p in folder.iterdir() if p.suffix in POLICY_SUFFIXES):
        text, unreadable = read_policy_text(path)
        if text is None:
            problems += unreadable
            continue
        policy, found = check_policy_text(text, str(path), settings)
        problems += found
        if policy is None:
            continue
        if policy.client in owners:
            line = parse_yaml(text, str(path)).line_of(("client",))
            problems.append(
                Problem.about(
                    str(path), line, ("client",), f"is also the client of {owners[policy.client]}",
                    "keep exactly one policy file per client", policy.client,
                )
            )  # fmt: skip
            continue
        policies[policy.client] = policy
        owners[policy.client] = path.name
    return policies, problems
