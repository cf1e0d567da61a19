"""The rules engine: evaluates a rule set over live jobs, cheaply enough for every few seconds.

What keeps a pass cheap over 10,000 jobs:

- which rules match a job is decided once per job key (keys never change) and cached;
- per (rule, job) the engine keeps the deadline before which the verdict cannot change unless
  the job does (a run reaching its stuck or lost time, a schedule's next tick, a pending alert's
  `for`, the next severity tier); a job whose `generation` is unchanged and whose deadlines are
  all in the future is skipped with one dict lookup and two comparisons;
- `evaluate_job` evaluates one job right after an event, so a failure alerts within a second;
- a pass of changes (`changes=True`) costs O(changes), not O(jobs): it is given only the jobs
  that changed and those deleted since the last pass, and takes the jobs whose deadline has
  come from a heap of deadlines. A scan pass (the default) is given every live job and finds
  the deleted ones itself; one is needed after a start, a reload or a restore
  (`needs_every_job`).

A full pass (`full=True`) evaluates everything regardless; it must give the same transitions as
an incremental pass of either kind at the same times (a property test holds the engine to it).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Sequence

from batchgate.rules.alerts import Alert, Evaluation
from batchgate.rules.book import AlertBook, SilenceLike
from batchgate.rules.facts import QUEUE, JobFacts, JobKeyTuple
from batchgate.rules.fleets import Fleet, Fleets
from batchgate.rules.kinds import INFINITY, Context
from batchgate.rules.kinds.declared import DeclaredMissed
from batchgate.rules.kinds.schedule import Missed
from batchgate.rules.matchers import JobMatcher
from batchgate.rules.ruleset import Rule, RuleSet


class _Slot:
    """The engine's memory of one job: its rules, what it last saw, and when to look again."""

    __slots__ = (
        "active", "deadline", "deadlines", "fleets", "generation", "job", "key", "late",
        "missed", "rules", "seen",
    )  # fmt: skip

    def __init__(self, job: JobFacts, rules: tuple[Rule, ...], active: list[bool]) -> None:
        self.job = job
        """The job as last given: what a pass of changes evaluates when its deadline comes."""
        self.key = job.key
        self.rules = rules
        self.generation = -1
        self.deadlines = [-INFINITY] * len(rules)
        self.deadline = -INFINITY
        self.active = active
        """Per rule: whether the book holds alerts of this rule for this job."""
        self.seen = 0
        self.missed: dict[int, float | None] = {
            index: None
            for index, rule in enumerate(rules)
            if isinstance(rule.kind, (Missed, DeclaredMissed))
        }
        """Per `missed` rule (by index): when it says the job is late from
        (`Missed.late_from`), or None while its condition does not hold."""
        self.late: float | None = -INFINITY
        """What `Evaluation.late` last said of the job; -INFINITY: nothing yet."""
        self.fleets = [index for index, rule in enumerate(rules) if isinstance(rule.kind, Fleet)]
        """Indexes of the `fleet` rules: the job is a member of a fleet of each."""


class RuleEngine:
    """Evaluates `ruleset` over jobs and keeps their alerts in `book`.

    Not thread-safe; meant to be called from one task. Every method takes `now` (unix seconds)
    and returns an `Evaluation`: the transitions, the notifications due, and what to persist.
    """

    def __init__(
        self,
        ruleset: RuleSet,
        *,
        book: AlertBook | None = None,
        context: Context | None = None,
    ) -> None:
        self.book = book if book is not None else AlertBook()
        self.context = context if context is not None else Context()
        self._slots: dict[JobKeyTuple, _Slot] = {}
        self._fleets = Fleets()
        self._pass = 0
        self._due: list[tuple[float, int, _Slot]] = []
        """A heap of (deadline, tie-breaker, slot): when to look at a slot again. An entry
        whose deadline is no longer its slot's, or whose slot is gone, is stale: skipped."""
        self._order = itertools.count()
        self.needs_every_job = True
        """Whether the next pass must be a scan pass, given every live job: no pass has run
        since the engine began, the rules were replaced or alerts restored."""
        self._use(ruleset)

    def replace_rules(self, ruleset: RuleSet) -> None:
        """Use a new rule set (a reload). The next `evaluate` re-evaluates every job; alerts of
        rules that are gone, or that no longer match their job, resolve then."""
        self._use(ruleset)

    def _use(self, ruleset: RuleSet) -> None:
        self.ruleset = ruleset
        self.book.set_inhibit_rules(ruleset.inhibit_rules)
        distinct: dict[JobMatcher, int] = {}
        self._matcher_of = [
            distinct.setdefault(rule.match, len(distinct)) for rule in ruleset.rules
        ]
        self._matchers = list(distinct)
        self._rule_index = {rule.name: index for index, rule in enumerate(ruleset.rules)}
        self._rule_names = [rule.name for rule in ruleset.rules]
        self._forget_slots()

    def _forget_slots(self) -> None:
        self._pass += 1  # a pass under way no longer decides what was deleted
        self._slots.clear()
        self._due.clear()
        self._fleets.clear()
        self._orphans_possible = True
        self.needs_every_job = True

    def restore(self, alerts: Iterable[dict[str, object]]) -> None:
        """Restore persisted alerts (`Alert.to_dict()`); the next `evaluate` re-judges them all."""
        self.book.restore(alerts)
        self._forget_slots()

    @property
    def alerts(self) -> list[Alert]:
        """Active (pending, firing) then recently resolved alerts."""
        return self.book.alerts()

    def evaluate(
        self,
        jobs: Iterable[JobFacts],
        now: float,
        *,
        full: bool = False,
        silences: Sequence[SilenceLike] = (),
    ) -> Evaluation:
        """One pass over every live job. `jobs` must be all of them: a job no longer listed has
        been deleted, and its alerts resolve. With `full`, nothing is skipped.

        A full pass over 10,000 jobs takes longer than an event loop should be held; use
        `start_pass` to run it in chunks."""
        evaluation_pass = self.start_pass(now, full=full, silences=silences)
        evaluation_pass.evaluate(jobs)
        return evaluation_pass.finish()

    def start_pass(
        self,
        now: float,
        *,
        full: bool = False,
        changes: bool = False,
        silences: Sequence[SilenceLike] = (),
    ) -> EvaluationPass:
        """Begin a pass that takes jobs in chunks (yield to the event loop between chunks).
        Events may be applied and `evaluate_job` called between chunks.

        A scan pass must be given every live job once before `finish()`. A pass of
        `changes` is given the jobs that changed since the last pass (`evaluate`) and those
        deleted (`forget`), then finds the jobs whose deadline has come (`evaluate_due`);
        it cannot be `full`, nor run while `needs_every_job`."""
        if changes and (full or self.needs_every_job):
            raise ValueError("a pass of changes cannot be full, nor run before a scan pass")
        self._pass += 1
        return EvaluationPass(self, self._pass, now, full, changes, silences)

    def evaluate_job(
        self, job: JobFacts, now: float, *, silences: Sequence[SilenceLike] = ()
    ) -> Evaluation:
        """Evaluate one job now, whatever its generation and deadlines (call it after an event).

        Only this job's alerts are refreshed; other alerts' repeats wait for the next pass."""
        out = Evaluation(now)
        slot = self._slots.get(job.key)
        if slot is None:
            slot = self._slots[job.key] = self._new_slot(job)
        slot.seen = self._pass  # alive: a pass under way must not take it for deleted
        slot.job = job
        self._evaluate_slot(slot, job, now, True, out)
        touched = [
            alert
            for rule in slot.rules
            for alert in self.book.groups.get((rule.name, slot.key), {}).values()
        ]
        for group_key in self._judge_fleets(now, out):
            touched.extend(self.book.groups.get(group_key, {}).values())
        self.book.refresh(now, out, silences, alerts=touched)
        out.jobs_evaluated = 1
        return out

    def has_alerts(self, key: JobKeyTuple) -> bool:
        """Whether the book holds alerts (pending or firing) for this job."""
        slot = self._slots.get(key)
        return slot is not None and any(slot.active)

    def rules_for(self, job: JobFacts) -> tuple[Rule, ...]:
        """The rules that apply to this job."""
        slot = self._slots.get(job.key)
        return (slot or self._new_slot(job)).rules

    def forget_job(self, key: JobKeyTuple, now: float) -> Evaluation:
        """A job was deleted: resolve its alerts now rather than at the next pass."""
        out = Evaluation(now)
        slot = self._slots.pop(key, None)
        if slot is not None:
            self._drop_slot(slot, now, out)
        for group_key in [g for g in self.book.groups if g[1] == key]:
            self.book.close_group(group_key, now, out)
        return out

    def _new_slot(self, job: JobFacts) -> _Slot:
        """Decide once which rules apply to a job (keys never change): each distinct matcher
        of the rule set is tried once."""
        key = job.key
        name, labels, kind = key[0], dict(key[1]), job.kind
        verdicts = [matcher.matches(name, labels, kind) for matcher in self._matchers]
        # The queue kinds judge queues (jobs of kind `queue`) and the other kinds never do.
        queue = kind == QUEUE
        rules = tuple(
            rule
            for rule, index in zip(self.ruleset.rules, self._matcher_of, strict=True)
            if verdicts[index] and (getattr(rule.kind, "subject", None) == QUEUE) == queue
        )
        # A rule of a declared kind yields to a rule of the kind it stands for that matches
        # the job: what a rule file says of a job wins over what the job declared.
        kinds = {rule.kind.name for rule in rules}
        rules = tuple(rule for rule in rules if getattr(rule.kind, "yields_to", None) not in kinds)
        groups = self.book.groups
        return _Slot(job, rules, [(rule.name, key) in groups for rule in rules])

    def _evaluate_slot(
        self, slot: _Slot, job: JobFacts, now: float, everything: bool, out: Evaluation
    ) -> None:
        context = self.context
        book = self.book
        deadlines = slot.deadlines
        active = slot.active
        soonest = INFINITY
        missed = slot.missed
        for index in slot.fleets:
            if everything:
                kind = slot.rules[index].kind
                assert isinstance(kind, Fleet)
                self._fleets.observe(self._rule_index[slot.rules[index].name], kind, job)
        for index, rule in enumerate(slot.rules):
            if everything or now >= deadlines[index]:
                conditions, deadline = rule.kind.evaluate(job, now, context)
                if conditions or active[index]:
                    deadline = min(deadline, book.observe(rule, job, conditions, now, out))
                    active[index] = bool(conditions)
                deadlines[index] = deadline
                if index in missed:
                    kind = rule.kind
                    assert isinstance(kind, (Missed, DeclaredMissed))
                    missed[index] = (
                        kind.late_from(job, conditions[0], context) if conditions else None
                    )
            if deadlines[index] < soonest:
                soonest = deadlines[index]
        if soonest != slot.deadline:
            slot.deadline = soonest
            if soonest < INFINITY:
                heapq.heappush(self._due, (soonest, next(self._order), slot))
        slot.generation = job.generation
        if missed or slot.late is not None:
            late = min((since for since in missed.values() if since is not None), default=None)
            if late != slot.late:
                slot.late = out.late[slot.key] = late

    def _drop_slot(self, slot: _Slot, now: float, out: Evaluation) -> None:
        for index, rule in enumerate(slot.rules):
            if slot.active[index]:
                self.book.close_group((rule.name, slot.key), now, out)
        for index in slot.fleets:
            rule = slot.rules[index]
            assert isinstance(rule.kind, Fleet)
            self._fleets.forget(self._rule_index[rule.name], slot.key, rule.kind.label)

    def _judge_fleets(self, now: float, out: Evaluation) -> list[tuple[str, JobKeyTuple]]:
        """Judge the fleets whose members changed or whose window moved past a success; the
        (rule name, fleet key) of each judged."""
        judged = []
        for fleet_id in self._fleets.due(now):
            rule = self.ruleset.rules[fleet_id[0]]
            assert isinstance(rule.kind, Fleet)
            fleet, conditions = self._fleets.judge(fleet_id, rule.kind, now)
            self.book.observe(rule, fleet, conditions, now, out)
            judged.append((rule.name, fleet.key))
        return judged

    def _close_orphans(self, now: float, out: Evaluation) -> None:
        """Resolve alerts whose rule is gone or no longer matches their job (after a reload or
        a restore); called after a pass, when every live job has a slot."""
        fleets = self._fleets.alert_keys(self._rule_names)
        for group_key in list(self.book.groups):
            if group_key in fleets:
                continue
            rule_name, job_key = group_key
            slot = self._slots.get(job_key)
            if slot is None or all(rule.name != rule_name for rule in slot.rules):
                self.book.close_group(group_key, now, out)


class EvaluationPass:
    """One evaluation pass, fed jobs in one or several chunks (see `start_pass`)."""

    def __init__(
        self,
        engine: RuleEngine,
        number: int,
        now: float,
        full: bool,
        changes: bool,
        silences: Sequence[SilenceLike],
    ) -> None:
        self._engine = engine
        self._number = number
        self.now = now
        self._full = full
        self._changes = changes
        self._silences = silences
        self._out = Evaluation(now)
        self._seen = 0

    def evaluate(self, jobs: Iterable[JobFacts]) -> None:
        """Evaluate these jobs (a chunk of the live jobs, or of the changed ones) as of the
        pass's `now`: each whose generation moved or whose deadline has come."""
        engine, out, now, full, number = self._engine, self._out, self.now, self._full, self._number
        slots = engine._slots
        evaluate_slot = engine._evaluate_slot
        evaluated = skipped = 0
        for job in jobs:
            key = job.key
            slot = slots.get(key)
            if slot is None:
                slot = slots[key] = engine._new_slot(job)
            if slot.seen != number:
                slot.seen = number
                self._seen += 1
            slot.job = job
            if full or job.generation != slot.generation:
                evaluate_slot(slot, job, now, True, out)
                evaluated += 1
            elif now >= slot.deadline:
                evaluate_slot(slot, job, now, False, out)
                evaluated += 1
            else:
                skipped += 1
        out.jobs_evaluated += evaluated
        out.jobs_skipped += skipped

    def forget(self, keys: Iterable[JobKeyTuple]) -> None:
        """These jobs were deleted (a pass of changes): their alerts resolve."""
        engine, out, now = self._engine, self._out, self.now
        for key in keys:
            slot = engine._slots.pop(key, None)
            if slot is not None:
                engine._drop_slot(slot, now, out)

    def evaluate_due(self, limit: int) -> int:
        """Evaluate up to `limit` jobs whose deadline has come (a pass of changes); returns
        how many. Call it until it returns less than `limit`."""
        engine, out, now, number = self._engine, self._out, self.now, self._number
        due, slots = engine._due, engine._slots
        evaluated = 0
        again = []
        while due and due[0][0] <= now and evaluated < limit:
            entry = heapq.heappop(due)
            deadline, _, slot = entry
            if slot.deadline != deadline or slots.get(slot.key) is not slot:
                continue  # stale: evaluated since, or deleted
            if slot.seen == number:
                again.append(entry)  # its deadline is still now: the next pass looks again
                continue
            slot.seen = number
            engine._evaluate_slot(slot, slot.job, now, False, out)
            evaluated += 1
            if slot.deadline == deadline:
                again.append(entry)
        for entry in again:
            heapq.heappush(due, entry)
        out.jobs_evaluated += evaluated
        return evaluated

    def finish(self) -> Evaluation:
        """Resolve the alerts of jobs that were not given to a scan pass (deleted), decide
        notifications, and return what the whole pass changed."""
        engine, out, now = self._engine, self._out, self.now
        slots = engine._slots
        if engine._pass == self._number:  # if a later pass has begun, it does this instead
            if not self._changes:
                if self._seen < len(slots):  # some job was not given: deleted
                    for key in [key for key, slot in slots.items() if slot.seen < self._number]:
                        engine._drop_slot(slots.pop(key), now, out)
                engine.needs_every_job = False
            engine._judge_fleets(now, out)
            if engine._orphans_possible:
                engine._close_orphans(now, out)
                engine._orphans_possible = False
            if len(engine._due) > 2 * len(slots) + 1024:  # mostly stale entries: rebuild
                engine._due = [
                    (slot.deadline, next(engine._order), slot)
                    for slot in slots.values()
                    if slot.deadline < INFINITY
                ]
                heapq.heapify(engine._due)
        engine.book.refresh(now, out, self._silences)
        return out
