"""Which node leads: the role state machine (`Leadership`, pure: times are passed in) and the
node that keeps the lease and runs the leader's session while it leads (`Node`).

With SQLite there is one node and it always leads. With PostgreSQL every node claims the
lease in the database (`storage.postgres.lease`): the holder leads, renewing it every third
of its length; the others are standbys, which try to take it once it has expired. A leader
learns it lost the lease at its next claim, and steps down; in between, its commits name its
epoch and fail (`lease.fence_sql`), so it acknowledges nothing it could lose.

While it cannot reach the database at all, a leader keeps its live state (reads are served
from memory, writes fail with the database); when the database answers again it renews, or
takes the lease again if nobody held it in between (the epoch after its own), or steps down.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)


class Role(enum.Enum):
    STANDBY = "standby"
    LEADER = "leader"


class Step(enum.Enum):
    """What a claim's answer asks the node to do."""

    NOTHING = "nothing"
    LEAD = "lead"
    """Restore the live state from the database and serve."""
    CONTINUE = "continue"
    """Took the lease again after it expired, nobody having held it since: keep serving,
    committing under the new epoch."""
    STEP_DOWN = "step down"


class LeaseAnswer(Protocol):
    """What a claim of the lease says (`storage.postgres.lease.Lease`)."""

    @property
    def holder(self) -> str: ...
    @property
    def advertise_url(self) -> str: ...
    @property
    def epoch(self) -> int: ...
    @property
    def expires_in(self) -> float: ...
    @property
    def held(self) -> bool: ...


@dataclass(slots=True)
class Leadership:
    """The node's role, and what it knows of the leader. Pure: every time is the caller's
    monotonic clock, passed in."""

    node_name: str
    advertise_url: str
    lease_seconds: float
    role: Role = Role.STANDBY
    epoch: int | None = None
    """The lease's epoch while this node leads."""
    leader_name: str = ""
    leader_url: str = ""
    changes: int = 0
    """Times this node's role changed."""
    valid_until: float = 0.0
    """While leading: when the lease last renewed expires, at the latest, on our clock."""
    next_claim_at: float = 0.0

    @classmethod
    def sole(cls, node_name: str, advertise_url: str) -> Leadership:
        """The one node of an SQLite history: always the leader."""
        return cls(node_name, advertise_url, float("inf"), Role.LEADER, 0, node_name,
                   advertise_url, valid_until=float("inf"))  # fmt: skip

    @property
    def leads(self) -> bool:
        return self.role is Role.LEADER

    def claimed(self, lease: LeaseAnswer, asked_at: float) -> Step:
        """Take in the answer to a claim sent at `asked_at`: the step to make."""
        self.leader_name, self.leader_url = lease.holder, lease.advertise_url
        if lease.held:
            # The lease runs from when the database answered, later than we asked: ours
            # ends first, whatever the clocks say.
            self.valid_until = asked_at + self.lease_seconds
            self.next_claim_at = asked_at + self.lease_seconds / 3
            previous, self.epoch = self.epoch, lease.epoch
            same_term = previous is not None and lease.epoch in (previous, previous + 1)
            if self.role is Role.LEADER and same_term:
                return Step.NOTHING if lease.epoch == previous else Step.CONTINUE
            self._become(Role.LEADER)
            return Step.LEAD
        # A standby asks again when the lease expires, or a third of its length from now.
        wait = min(self.lease_seconds / 3, max(lease.expires_in, 0.0) + 0.05)
        self.next_claim_at = asked_at + max(wait, 0.05)
        if self.role is Role.LEADER:
            self.epoch = None
            self._become(Role.STANDBY)
            return Step.STEP_DOWN
        return Step.NOTHING

    def unreachable(self, asked_at: float) -> None:
        """A claim the database did not answer: ask again soon; the role stays."""
        self.next_claim_at = asked_at + min(self.lease_seconds / 3, 1.0)

    def resign(self) -> Step:
        """Give up leading (the leader's session could not start, or the node stops)."""
        if self.role is Role.STANDBY:
            return Step.NOTHING
        self.epoch = None
        self.leader_name = self.leader_url = ""
        self._become(Role.STANDBY)
        return Step.STEP_DOWN

    def _become(self, role: Role) -> None:
        if role is not self.role:
            self.role = role
            self.changes += 1

    def as_json(self) -> dict[str, Any]:
        """The role and the leader, as /health and the live events show them."""
        leader = {"name": self.leader_name, "url": self.leader_url}
        return {"role": self.role.value, "node": self.node_name,
                "leader": leader if self.leader_name else None}  # fmt: skip


class LeaseClaims(Protocol):
    """The lease in the database (`storage.postgres.lease.LeaseTable`)."""

    async def claim(
        self, node: str, advertise_url: str, seconds: float, epoch: int | None
    ) -> LeaseAnswer: ...
    async def prepare(self) -> None: ...
    async def release(self, node: str, epoch: int) -> None: ...
    async def close(self) -> None: ...


Session = Callable[[], AbstractAsyncContextManager[None]]
"""The leader's session: restore the live state and serve while the block runs."""


class Node:
    """Keeps the lease (a task renewing or claiming it) and runs the leader's session while
    this node leads (another task, so that a long restore never delays a renewal)."""

    def __init__(
        self,
        leadership: Leadership,
        session: Session,
        lease: LeaseClaims | None,
        fence: Callable[[int | None], None] = lambda epoch: None,
        announce: Callable[[Leadership], None] = lambda leadership: None,
        renewed: Callable[[float], None] = lambda seconds: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.leadership = leadership
        self._session = session
        self._lease = lease
        self._fence = fence
        """Tells the store the epoch its commits must hold (None: commit nothing)."""
        self._announce = announce
        self._renewed = renewed
        self._clock = clock
        self._changed = asyncio.Event()
        self._running: contextlib.AsyncExitStack | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def serving(self) -> bool:
        """Whether the leader's session runs (restored and serving)."""
        return self._running is not None

    async def start(self) -> None:
        """Lead at once with SQLite; with PostgreSQL claim the lease once (a node alone
        leads as soon as it has started) and keep claiming it in the background."""
        if self._lease is None:
            await self._enter()
            return
        await self._lease.prepare()
        await self._claim()
        if self.leadership.leads:
            await self._enter()
        self._tasks = [
            asyncio.create_task(self._keep_lease(), name="batchgate-lease"),
            asyncio.create_task(self._follow_role(), name="batchgate-role"),
        ]

    async def stop(self) -> None:
        """Stop serving and let the lease go, so that a standby takes over at once."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._leave()
        if self._lease is not None:
            epoch = self.leadership.epoch
            if self.leadership.leads and epoch is not None:
                await self._lease.release(self.leadership.node_name, epoch)
            await self._lease.close()

    async def _claim(self) -> None:
        assert self._lease is not None
        leadership = self.leadership
        asked = self._clock()
        try:
            lease = await self._lease.claim(
                leadership.node_name, leadership.advertise_url, leadership.lease_seconds,
                leadership.epoch if leadership.leads else None,
            )  # fmt: skip
        except Exception as error:  # the database's errors are many; every one is retried
            leadership.unreachable(asked)
            log.warning("cannot reach the leadership lease: %s", error)
            return
        self._renewed(self._clock() - asked)
        step = leadership.claimed(lease, asked)
        if step is Step.LEAD:
            self._fence(leadership.epoch)
            log.info("took the leadership lease (epoch %s): restoring and serving",
                     leadership.epoch)  # fmt: skip
        elif step is Step.CONTINUE:
            self._fence(leadership.epoch)
            log.info("took the lease again (epoch %s); nobody led in between",
                     leadership.epoch)  # fmt: skip
        elif step is Step.STEP_DOWN:
            self._fence(None)
            log.warning("lost the leadership lease to %s (%s): stepping down to standby",
                        lease.holder, lease.advertise_url)  # fmt: skip
        if step in (Step.LEAD, Step.STEP_DOWN):
            self._announce(leadership)
            self._changed.set()

    async def _keep_lease(self) -> None:
        while True:
            await asyncio.sleep(max(self.leadership.next_claim_at - self._clock(), 0.0))
            await self._claim()

    async def _follow_role(self) -> None:
        while True:
            await self._changed.wait()
            self._changed.clear()
            if self.leadership.leads and self._running is None:
                try:
                    await self._enter()
                except Exception:
                    log.exception("could not start serving as the leader; resigning")
                    await self._resign()
            elif not self.leadership.leads and self._running is not None:
                await self._leave()

    async def _resign(self) -> None:
        epoch = self.leadership.epoch
        self._fence(None)
        if self.leadership.resign() is Step.STEP_DOWN:
            self._announce(self.leadership)
        if self._lease is not None and epoch is not None:
            await self._lease.release(self.leadership.node_name, epoch)

    async def _enter(self) -> None:
        stack = contextlib.AsyncExitStack()
        await stack.enter_async_context(self._session())
        self._running = stack

    async def _leave(self) -> None:
        stack, self._running = self._running, None
        if stack is not None:
            await stack.aclose()
