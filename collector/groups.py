"""Pushgateway groups inside batchgate: durable through the writer, seen as jobs, expiring.

The pure protocol lives in `batchgate.collector.pushgateway` (`GroupRegistry`). This module ties a
registry to the rest of batchgate: every change to a group is staged in the writer (a push
is acknowledged once its group is durable), every group is also a job of kind
`pushgateway` (`otlp` for an OTLP resource's) in the live state (so `/jobs`, the dashboard
and the rules see it), and groups expire by the configured rules, leaving a record in the
history.

An OTLP resource is a group too (`push_otlp`): its families are stored as a POST's, and its
series' state (`OtlpGroupState`: what delta points have counted) is kept with it, in the
group's snapshot after an `OTLP_MARK` line, so a restart restores both.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Iterable

from batchgate.collector.core.model import GROUP_KINDS, OTLP, PUSHGATEWAY, Job, JobKey
from batchgate.collector.core.records import GroupEventRecord
from batchgate.collector.core.state import State
from batchgate.collector.otlp import OtlpGroupState, ResourceBatch
from batchgate.collector.otlp.points import Rejected
from batchgate.collector.otlp.same_shape import ExportShapes, Repeat, keep_totals, new_values
from batchgate.collector.otlp.series import families_of
from batchgate.collector.pushgateway import (
    ExpiryRule,
    GroupingKey,
    GroupRegistry,
    GroupSummary,
    InconsistentPushError,
    PushgatewayError,
)
from batchgate.collector.storage.writer import Writer

log = logging.getLogger(__name__)

OTLP_MARK = "otlp 1\n"
"""How an OTLP group's snapshot starts: then its series' times (one JSON line), then the
registry's snapshot of its families."""


def job_key(key: GroupingKey) -> JobKey:
    """A group's job: named by its `job` label, keyed by its other grouping labels."""
    labels = tuple(pair for pair in key if pair[0] != "job")
    return JobKey(dict(key)["job"], labels)


def grouping_key(key: JobKey) -> GroupingKey:
    return tuple(sorted((*key.labels, ("job", key.name))))


def key_text(key: GroupingKey) -> str:
    return json.dumps(key, ensure_ascii=False, separators=(",", ":"))


def labels_text(key: GroupingKey) -> str:
    return json.dumps(dict(key), ensure_ascii=False, sort_keys=True, separators=(",", ":"))


class Groups:
    """The registry plus what batchgate does around each change to it."""

    def __init__(
        self,
        registry: GroupRegistry,
        state: State,
        writer: Writer,
        rules: Iterable[ExpiryRule],
        *,
        same_shape: bool = True,
    ) -> None:
        self.registry = registry
        self.state = state
        self.writer = writer
        self.expiry = tuple(rules)
        self.started_at = 0.0
        """When this server started (the Pushgateway's /api/v1/status says it)."""
        self._names: dict[GroupingKey, tuple[str, JobKey]] = {}
        """Each stored group's key text (the store's key) and its job's key, made once."""
        self.otlp: dict[GroupingKey, OtlpGroupState] = {}
        """The groups that OTLP resources push, with their series' state."""
        self.export_shapes = ExportShapes() if same_shape else None
        """The shape of each OTLP group's last export, for the same-shape path
        (`otlp.same_shape`); None: the path is turned off, every export is translated."""

    def restore(self, snapshots: Iterable[str]) -> int:
        """Load stored groups at start; a snapshot that no longer fits is logged and skipped."""
        restored = 0
        for snapshot in snapshots:
            try:
                key = self._restore(snapshot)
            except (ValueError, KeyError, TypeError, PushgatewayError) as error:
                log.error("skipping a stored Pushgateway group that cannot be restored: %s", error)
                continue
            summary = self.registry.get(key)
            if summary is not None:
                self.show_as_job(summary)
                restored += 1
        return restored

    def _restore(self, snapshot: str) -> GroupingKey:
        if not snapshot.startswith(OTLP_MARK):
            return self.registry.restore_group(snapshot)
        header, _, rest = snapshot[len(OTLP_MARK) :].partition("\n")
        key = self.registry.restore_group(rest)
        families = (family for family, _ in self.registry.group_families(key))
        self.otlp[key] = OtlpGroupState.restore(header, families, dict(key))
        return key

    def push_otlp(
        self, resource: ResourceBatch | Repeat, now: float
    ) -> tuple[Job | None, list[Rejected]]:
        """An OTLP resource's points stored in its group (created if new): its job (None
        if nothing changed) and the points refused, each with its reason. Raises
        PushTooLargeError (nothing stored) when the group would hold too many series.

        A repeat of the group's last export takes the same-shape path (`otlp.same_shape`)
        unless one of its points needs the full path; it ends where the full path would."""
        if isinstance(resource, Repeat):
            job = self._repeat_otlp(resource, now)
            if job is not None:
                return job, []
            resource = resource.translate()
        batch = resource
        key = batch.key
        state = self.otlp.get(key) or OtlpGroupState()
        merged = state.merge(batch.points, batch.aggregate)
        rejected = [*batch.rejected, *merged.rejected]
        families = families_of(merged)
        if not families:
            return None, rejected
        try:
            result, refused = self.registry.apply_each(key, families, now)
        except InconsistentPushError as error:
            reason = "; ".join(error.errors)
            rejected.extend(Rejected(count, reason) for count in merged.points.values())
            if not error.group_changed or error.key is None:
                return None, rejected
            return self._changed_otlp(key, state), rejected
        for name, errors in refused.items():
            rejected.append(Rejected(merged.points[name], "; ".join(errors)))
        if result is not None:
            stored = (name for name in families if name not in refused)
            state.commit(merged, stored, aggregate=batch.aggregate is not None)
        if self.export_shapes is not None:
            if result is not None and not rejected:
                slots = functools.partial(self.registry.value_slots, key)
                self.export_shapes.stored(batch, merged, result.created, slots)
            else:
                self.export_shapes.forget(key)
        if key not in self.registry:
            return None, rejected
        return self._changed_otlp(key, state), rejected

    def _repeat_otlp(self, repeat: Repeat, now: float) -> Job | None:
        """The same-shape path: the repeat's values stored, its group's job; None (nothing
        changed) when the full path must take it."""
        state = self.otlp.get(repeat.key)
        if state is None:
            return None
        new = new_values(repeat, state)
        if new is None:
            return None
        values, totals = new
        if self.registry.rewrite_values(repeat.shape.slots, values, now) is None:
            return None
        keep_totals(totals)
        return self._changed(repeat.key)

    def _changed_otlp(self, key: GroupingKey, state: OtlpGroupState) -> Job | None:
        self.otlp[key] = state
        return self._changed(key)

    def changed(self, key: GroupingKey) -> Job | None:
        """A Pushgateway push changed the group (or its failure time): stage it and update
        its job (returned; None if the group is gone). In an OTLP group, what its series'
        state holds is taken again from what is stored: a PUT or POST replaced families,
        and the next delta export adds to what the push left, not to what was before."""
        state = self.otlp.get(key)
        if state is not None:
            if key in self.registry:
                families = (family for family, _ in self.registry.group_families(key))
                self.otlp[key] = OtlpGroupState.restore(state.header(), families, dict(key))
            else:
                del self.otlp[key]
        return self._changed(key)

    def _changed(self, key: GroupingKey) -> Job | None:
        registry = self.registry

        def snapshot() -> str | None:
            if key not in registry:
                return None
            otlp = self.otlp.get(key)
            if otlp is None:
                return registry.snapshot_group(key)
            return OTLP_MARK + otlp.header() + "\n" + registry.snapshot_group(key)

        names = self._names.get(key)
        if names is None:
            names = self._names[key] = (key_text(key), job_key(key))
        self.writer.stage_group(names[0], snapshot)
        summary = registry.get(key)
        return self.show_as_job(summary, names[1]) if summary is not None else None

    def removed(self, summary: GroupSummary, event: str, now: float) -> None:
        """The group was deleted, wiped or expired: unstore it, record it, drop its job."""
        self._names.pop(summary.key, None)
        self.otlp.pop(summary.key, None)
        if self.export_shapes is not None:
            self.export_shapes.forget(summary.key)
        self.writer.stage_group(key_text(summary.key), lambda: None)
        self.writer.stage_group_event(
            GroupEventRecord(
                now,
                event,
                labels_text(summary.key),
                summary.push_time or None,
                summary.series,
            )
        )
        self.forget_job(summary.key)

    def delete(self, key: GroupingKey, now: float) -> bool:
        summary = self.registry.get(key)
        if summary is None:
            return False
        self.registry.remove_group(key)
        self.removed(summary, "deleted", now)
        return True

    def wipe(self, now: float) -> int:
        summaries = list(self.registry.groups())
        self.registry.wipe()
        self._names.clear()
        self.otlp.clear()
        if self.export_shapes is not None:
            self.export_shapes.clear()
        self.writer.stage_groups_wiped()
        for summary in summaries:
            self.writer.stage_group_event(
                GroupEventRecord(
                    now, "wiped", labels_text(summary.key), summary.push_time or None,
                    summary.series,
                )
            )  # fmt: skip
            self.forget_job(summary.key)
        return len(summaries)

    def expire(self, now: float) -> list[GroupSummary]:
        """Remove the groups their job's expiry rule says are stale."""
        if not self.expiry:
            return []
        expired = self.registry.expire(now, self.expiry, self.state.deaf)
        for summary in expired:
            self.removed(summary, "expired", now)
        if expired:
            log.info("expired %d Pushgateway groups not pushed for too long", len(expired))
        return expired

    def show_as_job(self, summary: GroupSummary, key: JobKey | None = None) -> Job:
        """The group's job (its key, if known, is `key`) in the live state: last push, last
        failed push. A job that reports runs under the same key keeps its runs' times; the
        group is shown beside them (`GET /jobs`). Its kind is `otlp` while OTLP exports
        feed it, else `pushgateway`."""
        kind = OTLP if summary.key in self.otlp else PUSHGATEWAY
        job = self.state.job(key or job_key(summary.key), summary.created, kind)
        if job.kind in GROUP_KINDS:
            job.kind = kind
            job.last_success_at = summary.push_time or None
            job.last_failure_at = summary.failure_time or None
            job.last_seen_at = max(summary.push_time, summary.failure_time, summary.created)
            self.state.touch(job)
        return job

    def forget_job(self, key: GroupingKey) -> None:
        job = self.state.jobs.get(job_key(key))
        if job is not None and job.kind in GROUP_KINDS and not job.running and not job.last_run:
            self.state.delete_jobs(job.name, job.key)
