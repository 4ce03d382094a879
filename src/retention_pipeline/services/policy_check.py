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

import os
import stat
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

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
    # a scalar is not shown: a file that is one value is no policy, and may be a secret
    got = "a list" if isinstance(parsed.data, list) else "a single value"
    return [
        Problem(parsed.filename, parsed.line_of(()), "-", "must be a mapping of fields", got, start)
    ]


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
    if not set(parsed.data) & set(ClientPolicy.model_fields):
        # some other file (a key file, an env file, someone's notes): listing its keys as
        # unknown fields would print its content, so one line says what it is instead
        hint = "keep only client policies in the folder, each starting with 'client: <id>'"
        return _finish(None, [Problem(filename, 1, "-", "is not a client policy", None, hint)])
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
    """The file's text, or ``None`` and the problem that says why it is not read.

    A policy is a regular file of its folder. A link that leads out of the folder is
    refused unopened: it could point at ``/etc/shadow`` or another installation's
    secrets, whose lines would come back as field names in the problems. A pipe or a
    device is refused too (reading one blocks or never ends), and so is a file larger than
    ``MAX_POLICY_BYTES``. Problems name the policy file, never the link's target.
    """

    def refused(message: str, hint: str) -> tuple[None, list[Problem]]:
        return None, [Problem(str(path), 1, "-", message, None, hint)]

    unreadable = "make it a readable UTF-8 text file"
    try:
        folder = path.absolute().parent.resolve()
        target = path.resolve(strict=True)
    except (OSError, RuntimeError):  # a link to nothing, or a loop of links
        return refused("cannot be read (missing, or a link to nothing)", unreadable)
    if not target.is_relative_to(folder):
        return refused(
            "is a link to a file outside its folder; refusing to read it",
            "put the policy file itself in the folder (a link may only point inside it)",
        )
    try:
        with _open_regular(target) as handle:
            raw = handle.read(MAX_POLICY_BYTES + 1)
    except _NotRegularError:
        return refused("is not a regular file", "a policy is a plain YAML text file")
    except OSError:
        return refused("cannot be read", unreadable)
    if len(raw) > MAX_POLICY_BYTES:
        return refused(
            f"is larger than {MAX_POLICY_BYTES // 1024} KiB, which no policy is",
            "put only policy files in the folder, one client each",
        )
    try:
        return raw.decode("utf-8"), []
    except UnicodeDecodeError:
        return refused("cannot be read (it is not UTF-8 text)", unreadable)


# A policy of every section fully written is some 5 KiB.
MAX_POLICY_BYTES = 1024 * 1024


class _NotRegularError(Exception):
    """The path is a pipe, a device, a socket or a folder."""


def _open_regular(target: Path) -> BinaryIO:
    """Open ``target`` for reading only if it is a regular file (never block on a pipe)."""
    fd = os.open(target, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise _NotRegularError
    return os.fdopen(fd, "rb")


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
