"""Operator alerts: a DAG's failure callback that posts to a webhook and/or sends e-mail.

An entry point, like ``tasks``: DAG files pass ``failure_callback()`` as their
``on_failure_callback``. Rules this module keeps:

* the alert carries ids only (DAG, run, task, map index, Airflow's reason and the
  exception's class name), never the exception's text: operators open the task log for
  that, and a message never travels to a third-party inbox or chat with data in it;
* the channels are read from the environment when the callback runs, not when the DAG
  file is parsed: ``RETENTION_ALERT_WEBHOOK`` (POST of the JSON alert) and
  ``RETENTION_ALERT_EMAIL`` with ``RETENTION_SMTP_HOST`` / ``RETENTION_SMTP_PORT``
  (plain SMTP to a local relay); none set means no alert;
* a broken channel is logged (its kind and the error's class) and swallowed: an alert
  that fails must never hide, replace or delay the failure it reports.
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from typing import Any

from retention_pipeline.errors import ConfigError

log = logging.getLogger(__name__)

WEBHOOK_ENV = "RETENTION_ALERT_WEBHOOK"
EMAIL_ENV = "RETENTION_ALERT_EMAIL"
SMTP_HOST_ENV = "RETENTION_SMTP_HOST"
SMTP_PORT_ENV = "RETENTION_SMTP_PORT"
SENDER_ENV = "RETENTION_ALERT_SENDER"
DEFAULT_SENDER = "retention-pipeline@localhost"
TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Alert:
    """What an operator is told: which run and task failed, and why, by ids only."""

    dag_id: str | None
    run_id: str | None
    task_id: str | None
    map_index: int | None
    reason: str | None
    error: str | None

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> Alert:
        """Read the ids out of an Airflow callback context (task or DAG callback)."""
        ti = context.get("ti") or context.get("task_instance")
        run = context.get("dag_run")
        dag = context.get("dag")
        exception = context.get("exception")
        map_index = getattr(ti, "map_index", None)
        return cls(
            dag_id=_text(getattr(dag, "dag_id", None) or getattr(run, "dag_id", None)),
            run_id=_text(getattr(run, "run_id", None) or context.get("run_id")),
            task_id=_text(getattr(ti, "task_id", None)),
            map_index=map_index if isinstance(map_index, int) else None,
            reason=_text(context.get("reason")),
            error=type(exception).__name__ if isinstance(exception, BaseException) else None,
        )

    def to_json(self) -> bytes:
        """The webhook body (also the e-mail's body)."""
        return json.dumps(asdict(self), sort_keys=True).encode()


@dataclass(frozen=True)
class Channels:
    """Where alerts go; built from the environment when a callback runs."""

    webhook_url: str | None = None
    email_to: str | None = None
    smtp_host: str = "localhost"
    smtp_port: int = 25
    sender: str = DEFAULT_SENDER

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Channels:
        """Read ``RETENTION_ALERT_*`` and ``RETENTION_SMTP_*`` (unset: that channel is off)."""
        env = os.environ if environ is None else environ
        return cls(
            webhook_url=env.get(WEBHOOK_ENV) or None,
            email_to=env.get(EMAIL_ENV) or None,
            smtp_host=env.get(SMTP_HOST_ENV) or "localhost",
            smtp_port=int(env.get(SMTP_PORT_ENV) or 25),
            sender=env.get(SENDER_ENV) or DEFAULT_SENDER,
        )


def failure_callback(
    channels: Channels | None = None,
) -> Callable[[Mapping[str, Any]], None]:
    """An ``on_failure_callback`` sending an ``Alert`` to every configured channel.

    ``channels=None`` reads the environment at each call, so one DAG file serves every
    deployment and a test can point a run at its own receiver.
    """

    def notify(context: Mapping[str, Any]) -> None:
        try:
            chosen = channels or Channels.from_env()
            alert = Alert.from_context(context)
        except Exception as error:  # never let the alert hide the failure
            log.warning("alert not sent: could not build it (%s)", type(error).__name__)
            return
        send(alert, chosen)

    return notify


def send(alert: Alert, channels: Channels) -> None:
    """Deliver to each channel; a channel that fails is logged and skipped."""
    if channels.webhook_url:
        try:
            post_webhook(alert, channels.webhook_url)
        except Exception as error:
            log.warning("alert webhook failed (%s); the task failure stands", type(error).__name__)
    if channels.email_to:
        try:
            send_email(alert, channels)
        except Exception as error:
            log.warning("alert e-mail failed (%s); the task failure stands", type(error).__name__)


def post_webhook(alert: Alert, url: str) -> None:
    """POST the alert as JSON; any non-2xx answer raises (``urllib`` does).

    Only ``http``/``https``: ``urllib`` would also open ``file:`` and other schemes.
    """
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ConfigError(f"{WEBHOOK_ENV}: use an http:// or https:// URL")
    request = urllib.request.Request(  # noqa: S310 (scheme checked above)
        url,
        data=alert.to_json(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
        response.read()


def alert_email(alert: Alert, sender: str, to: str) -> EmailMessage:
    """The e-mail for an alert: ids in the subject, the JSON alert as the body."""
    message = EmailMessage()
    where = alert.task_id or "run"
    if alert.map_index is not None and alert.map_index >= 0:
        where = f"{where}[{alert.map_index}]"
    message["Subject"] = f"[retention-pipeline] {alert.dag_id} failed: {where}"
    message["From"] = sender
    message["To"] = to
    message.set_content(
        "A retention-pipeline run failed. Open the task log in Airflow for the details.\n\n"
        + json.dumps(asdict(alert), indent=2, sort_keys=True)
        + "\n"
    )
    return message


def send_email(alert: Alert, channels: Channels) -> None:
    """Send through plain SMTP (a local relay does TLS and authentication if needed)."""
    if channels.email_to is None:
        return
    message = alert_email(alert, channels.sender, channels.email_to)
    with smtplib.SMTP(channels.smtp_host, channels.smtp_port, timeout=TIMEOUT_SECONDS) as smtp:
        smtp.send_message(message)


def _text(value: object) -> str | None:
    return None if value is None else str(value)
