"""What applying a set of policy files would change, decided without I/O.

``policy apply`` first prints this plan, then records one new policy version per client
whose order form changed. The plan is a pure function of the catalog's current
documents and the files' documents, so what is printed is exactly what is recorded.

Rules:
* a file for a client the catalog does not know (or knows as removed) -> ``added``;
* a file whose canonical document differs from the current version -> ``changed``,
  with the changed fields listed path by path;
* a current client with no file, when the whole policy folder was read -> ``removed``
  (a removed client is processed no more: privacy by default);
* identical documents -> ``unchanged``: nothing is recorded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from retention_pipeline.domain.documents import PERSONAL_FIELDS, REDACTED
from retention_pipeline.domain.policy import FieldChange, diff_documents

PlanKind = Literal["added", "changed", "removed", "unchanged"]

# A change path's field names (``legal_hold.reason`` -> legal_hold, reason): a plan hides
# the values of the same personal fields as a problem line (documents.PERSONAL_FIELDS).
_FIELD_NAME = re.compile(r"[^.\[\]]+")


@dataclass(frozen=True)
class ClientPlan:
    """The planned outcome for one client."""

    client_id: str
    kind: PlanKind
    changes: tuple[FieldChange, ...]
    document: dict[str, Any] | None

    @property
    def records_version(self) -> bool:
        """Whether applying this plan writes a new policy version."""
        return self.kind != "unchanged"


def plan_policies(
    current: Mapping[str, dict[str, Any] | None],
    desired: Mapping[str, dict[str, Any]],
    *,
    complete: bool,
) -> list[ClientPlan]:
    """Compare current documents (``None`` = removed) with desired ones, by client id.

    ``complete`` says whether ``desired`` holds every policy file of the installation;
    only then can a missing file mean a removed client (applying one file must not
    remove every other client).
    """
    plans: list[ClientPlan] = []
    for client_id in sorted(set(current) | set(desired)):
        old = current.get(client_id)
        new = desired.get(client_id)
        if new is None:
            if old is not None and complete:
                plans.append(
                    ClientPlan(client_id, "removed", tuple(diff_documents(old, None)), None)
                )
            continue
        changes = tuple(diff_documents(old, new))
        if old is None:
            plans.append(ClientPlan(client_id, "added", changes, new))
        elif changes:
            plans.append(ClientPlan(client_id, "changed", changes, new))
        else:
            plans.append(ClientPlan(client_id, "unchanged", (), new))
    return plans


def shown_value(path: str, value: object) -> str:
    """A change's value as plans show it: personal fields are never echoed."""
    if value is None:
        return "(none)"
    if PERSONAL_FIELDS & set(_FIELD_NAME.findall(path)):
        return REDACTED
    return str(value)
