"""Idempotency keys in the database: claim, finish, release, take-over and purge."""

from __future__ import annotations

from datetime import timedelta

import pytest

from models.idempotency import (
    ABANDONED_AFTER,
    COMPLETED,
    IN_PROGRESS,
    KEY_LIFETIME,
    Busy,
    Claimed,
    Fingerprint,
    StoredResponse,
    claim_key,
    finish_key,
    purge_expired_keys,
    release_key,
    select_key,
)
from models.records import utcnow

pytestmark = pytest.mark.usefixtures("migrated")

CREATE = Fingerprint("POST", "/api/v1/workspaces", "a" * 64)
OTHER_BODY = Fingerprint("POST", "/api/v1/workspaces", "b" * 64)
ANSWER = StoredResponse(201, '{"id":"w1"}', {"Location": "/api/v1/workspaces/w1"})


def claimed(outcome: Claimed | StoredResponse | Busy) -> Claimed:
    assert isinstance(outcome, Claimed), outcome
    return outcome


def test_a_new_key_is_claimed_in_progress() -> None:
    claim_key("alice", "k1", CREATE)

    record = select_key("alice", "k1")

    assert record is not None
    assert (record.status, record.fingerprint, record.response) == (IN_PROGRESS, CREATE, None)


def test_a_finished_key_answers_with_the_stored_response() -> None:
    claim = claimed(claim_key("alice", "k1", CREATE))
    assert finish_key("alice", "k1", claim.claim_id, ANSWER)

    assert claim_key("alice", "k1", CREATE) == ANSWER
    record = select_key("alice", "k1")
    assert record is not None and record.status == COMPLETED


def test_a_key_in_progress_is_busy() -> None:
    claimed(claim_key("alice", "k1", CREATE))

    assert claim_key("alice", "k1", CREATE) is Busy.IN_PROGRESS


def test_another_request_with_the_key_is_reused_even_while_in_progress() -> None:
    claim = claimed(claim_key("alice", "k1", CREATE))
    assert claim_key("alice", "k1", OTHER_BODY) is Busy.REUSED

    finish_key("alice", "k1", claim.claim_id, ANSWER)
    assert claim_key("alice", "k1", OTHER_BODY) is Busy.REUSED
    assert claim_key("alice", "k1", Fingerprint("POST", "/api/v1/other", "a" * 64)) is Busy.REUSED


def test_keys_of_different_owners_are_independent() -> None:
    alice = claimed(claim_key("alice", "k1", CREATE))
    finish_key("alice", "k1", alice.claim_id, ANSWER)

    bob = claim_key("bob", "k1", OTHER_BODY)

    assert isinstance(bob, Claimed)


def test_a_released_key_can_be_claimed_again() -> None:
    claim = claimed(claim_key("alice", "k1", CREATE))
    assert release_key("alice", "k1", claim.claim_id)

    assert select_key("alice", "k1") is None
    assert isinstance(claim_key("alice", "k1", OTHER_BODY), Claimed)


def test_an_abandoned_claim_is_taken_over_and_the_first_claimant_cannot_finish_it() -> None:
    now = utcnow()
    first = claimed(claim_key("alice", "k1", CREATE, now=now))
    assert claim_key("alice", "k1", CREATE, now=now + ABANDONED_AFTER / 2) is Busy.IN_PROGRESS

    second = claimed(claim_key("alice", "k1", CREATE, now=now + ABANDONED_AFTER))

    assert second.claim_id != first.claim_id
    assert not finish_key("alice", "k1", first.claim_id, StoredResponse(201, "{}", {}))
    assert not release_key("alice", "k1", first.claim_id)
    assert finish_key("alice", "k1", second.claim_id, ANSWER)
    assert claim_key("alice", "k1", CREATE, now=now + ABANDONED_AFTER) == ANSWER


def test_a_finished_answer_is_kept_for_the_lifetime_then_the_key_is_new() -> None:
    now = utcnow()
    claim = claimed(claim_key("alice", "k1", CREATE, now=now))
    finish_key("alice", "k1", claim.claim_id, ANSWER)
    almost = now + KEY_LIFETIME - timedelta(seconds=1)
    assert claim_key("alice", "k1", OTHER_BODY, now=almost) is Busy.REUSED

    again = claim_key("alice", "k1", OTHER_BODY, now=now + KEY_LIFETIME)

    assert isinstance(again, Claimed)
    record = select_key("alice", "k1")
    assert record is not None
    assert (record.status, record.fingerprint, record.response) == (IN_PROGRESS, OTHER_BODY, None)


def test_purge_deletes_only_expired_keys() -> None:
    now = utcnow()
    old = claimed(claim_key("alice", "old", CREATE, now=now - KEY_LIFETIME))
    finish_key("alice", "old", old.claim_id, ANSWER)
    claim_key("alice", "abandoned", CREATE, now=now - KEY_LIFETIME - timedelta(seconds=1))
    claim_key("alice", "fresh", CREATE, now=now - KEY_LIFETIME + timedelta(seconds=5))

    assert purge_expired_keys(now=now) == 2

    assert select_key("alice", "old") is None
    assert select_key("alice", "abandoned") is None
    assert select_key("alice", "fresh") is not None
    assert purge_expired_keys(now=now) == 0
