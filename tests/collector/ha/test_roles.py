"""The role state machine on its own: what each answer of the lease makes a node do.
Times are passed in (a monotonic clock's seconds)."""

from __future__ import annotations

from dataclasses import dataclass

from batchgate.collector.leadership import Leadership, Role, Step


@dataclass(frozen=True)
class Answer:
    holder: str
    advertise_url: str
    epoch: int
    expires_in: float
    held: bool


def held(epoch: int) -> Answer:
    return Answer("alpha", "http://alpha", epoch, 5.0, True)


def taken_by_beta(epoch: int, expires_in: float = 5.0) -> Answer:
    return Answer("beta", "http://beta", epoch, expires_in, False)


def test_a_node_that_takes_the_lease_leads_and_renews_every_third_of_it() -> None:
    node = Leadership("alpha", "http://alpha", 6.0)
    assert node.claimed(held(1), 100.0) is Step.LEAD
    assert node.role is Role.LEADER
    assert node.epoch == 1
    assert node.next_claim_at == 102.0
    assert node.valid_until == 106.0
    assert node.claimed(held(1), 102.0) is Step.NOTHING
    assert node.changes == 1


def test_a_leader_that_finds_another_holder_steps_down() -> None:
    node = Leadership("alpha", "http://alpha", 6.0)
    node.claimed(held(1), 100.0)
    assert node.claimed(taken_by_beta(2), 110.0) is Step.STEP_DOWN
    assert node.role is Role.STANDBY
    assert node.epoch is None
    assert (node.leader_name, node.leader_url) == ("beta", "http://beta")
    assert node.changes == 2


def test_a_leader_that_takes_its_expired_lease_again_keeps_its_state_only_if_nobody_led() -> None:
    node = Leadership("alpha", "http://alpha", 6.0)
    node.claimed(held(3), 100.0)
    assert node.claimed(held(4), 120.0) is Step.CONTINUE  # the next epoch: nobody between
    assert node.epoch == 4
    assert node.claimed(held(6), 140.0) is Step.LEAD  # someone led in epoch 5: restore
    assert node.role is Role.LEADER


def test_a_standby_asks_again_when_the_lease_expires_or_a_third_of_it_from_now() -> None:
    node = Leadership("alpha", "http://alpha", 6.0)
    assert node.claimed(taken_by_beta(2, expires_in=0.5), 100.0) is Step.NOTHING
    assert node.role is Role.STANDBY
    assert node.next_claim_at == 100.55
    node.claimed(taken_by_beta(2, expires_in=5.0), 100.0)
    assert node.next_claim_at == 102.0


def test_a_leader_that_cannot_reach_the_database_keeps_leading() -> None:
    node = Leadership("alpha", "http://alpha", 6.0)
    node.claimed(held(1), 100.0)
    node.unreachable(107.0)
    assert node.role is Role.LEADER
    assert node.next_claim_at == 108.0


def test_with_sqlite_the_one_node_always_leads() -> None:
    node = Leadership.sole("alpha", "http://alpha")
    assert node.leads
    assert node.as_json() == {
        "role": "leader", "node": "alpha", "leader": {"name": "alpha", "url": "http://alpha"}
    }  # fmt: skip
