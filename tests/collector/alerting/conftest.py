"""Fixtures for alerting tests: webhook receivers, and batchgate started with receivers and
rules given as YAML text."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from batchgate.collector.alerting.settings import AlertingSettings, NotificationSettings
from batchgate.rules import load_receivers
from tests.collector.alerting.receiver import WebhookReceiver
from tests.helpers import Client

FAST_RETRIES = NotificationSettings(retry_initial=0.05, retry_max=0.2)


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    hook = await WebhookReceiver().start()
    yield hook
    await hook.stop()


def alerting(
    tmp_path: Path,
    *,
    receivers: str = "",
    rules: str | None = None,
    **overrides: Any,
) -> AlertingSettings:
    """Alerting settings from YAML text: `receivers:` entries, and rules (written to a file
    in tmp_path; None keeps the default rules)."""
    parsed, errors = load_receivers(f"receivers:\n{receivers}" if receivers else "")
    assert not errors, errors
    files: tuple[str, ...] = ()
    if rules is not None:
        path = tmp_path / "rules.yaml"
        path.write_text(rules)
        files = (str(path),)
    settings = AlertingSettings(
        rules_files=files,
        rules_flags=files,
        receivers=tuple(parsed),
        evaluation_interval=0.05,
        external_url="http://batchgate.test:9091",
        notifications=FAST_RETRIES,
    )
    return replace(settings, **overrides)


StartWith = Callable[..., Awaitable[Client]]


@pytest.fixture
def start_with(start: Callable[..., Awaitable[Client]], tmp_path: Path) -> StartWith:
    """Start batchgate with `alerting(...)` settings built from the same keywords."""

    async def starter(**keywords: Any) -> Client:
        return await start(alerting=alerting(tmp_path, **keywords))

    return starter


def webhook(receiver: WebhookReceiver, name: str = "ops", extra: str = "") -> str:
    """A `receivers:` entry for a webhook receiver, as YAML."""
    return f'  - {{name: {name}, webhook: {{url: "{receiver.url}"}}{extra}}}\n'
