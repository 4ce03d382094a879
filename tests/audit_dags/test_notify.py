"""The operator alert: ids only, e-mail built from them, a broken channel never raises."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from retention_pipeline.notify import Alert, Channels, alert_email, failure_callback

SECRET = "contact jane.doe@example.org of ACME SAS"


def context() -> dict[str, object]:
    """A callback context shaped like Airflow's, with data in the exception's text."""
    return {
        "dag": SimpleNamespace(dag_id="verify_backups"),
        "dag_run": SimpleNamespace(dag_id="verify_backups", run_id="scheduled__2026-11-26"),
        "ti": SimpleNamespace(task_id="verify", map_index=3),
        "reason": "task_failure",
        "exception": ValueError(SECRET),
    }


def test_the_alert_names_ids_and_the_error_class_never_the_error_text() -> None:
    alert = Alert.from_context(context())
    assert alert == Alert(
        "verify_backups", "scheduled__2026-11-26", "verify", 3, "task_failure", "ValueError"
    )
    assert b"jane.doe" not in alert.to_json()


def test_the_email_carries_the_ids_in_its_subject_and_the_alert_as_its_body() -> None:
    alert = Alert.from_context(context())
    message = alert_email(alert, "pipeline@hoster.example", "oncall@hoster.example")
    assert message["Subject"] == "[retention-pipeline] verify_backups failed: verify[3]"
    assert message["To"] == "oncall@hoster.example"
    body = message.get_content()
    assert '"run_id": "scheduled__2026-11-26"' in body and "jane.doe" not in body


def test_channels_come_from_the_environment_and_default_to_none() -> None:
    assert Channels.from_env({}) == Channels()
    env = {
        "RETENTION_ALERT_WEBHOOK": "https://hooks.example/x",
        "RETENTION_ALERT_EMAIL": "oncall@hoster.example",
        "RETENTION_SMTP_HOST": "relay",
        "RETENTION_SMTP_PORT": "2525",
    }
    channels = Channels.from_env(env)
    assert (channels.webhook_url, channels.email_to) == (
        env["RETENTION_ALERT_WEBHOOK"],
        env["RETENTION_ALERT_EMAIL"],
    )
    assert (channels.smtp_host, channels.smtp_port) == ("relay", 2525)


def test_a_broken_channel_is_logged_and_swallowed(caplog: pytest.LogCaptureFixture) -> None:
    # nothing listens on port 9 of 127.0.0.1, and file: is refused before any request
    broken = Channels(
        webhook_url="http://127.0.0.1:9/alerts", email_to="x@hoster.example", smtp_port=9
    )
    failure_callback(broken)(context())
    failure_callback(Channels(webhook_url="file:///etc/passwd"))(context())
    messages = [r.getMessage() for r in caplog.records]
    assert any("alert webhook failed" in m for m in messages)
    assert any("alert e-mail failed" in m for m in messages)
    assert not any("jane.doe" in m or "127.0.0.1" in m for m in messages)
