"""Records carry the account's identity once, in `ref`; one scheduled before that model existed is still read."""

from datetime import UTC, datetime

from dunning.orders import AccountClosed, AccountRef, CollectionResumed

REF = AccountRef(account_id="A-1", workflow_id="account-A-1", ladder_life="run-1")
AT = datetime(2026, 3, 1, tzinfo=UTC)


def test_a_record_carries_the_accounts_identity_in_its_ref():
    resumed = CollectionResumed(ref=REF, skipped=[], reason="fraud claim lapsed")
    assert resumed.model_dump()["ref"] == {"account_id": "A-1", "workflow_id": "account-A-1", "ladder_life": "run-1"}


def test_a_record_in_flight_across_the_deploy_is_read_into_its_ref():
    flat = {"account_id": "A-1", "workflow_id": "account-A-1", "ladder_life": "run-1", "skipped": [], "reason": "r"}
    assert CollectionResumed.model_validate(flat).ref == REF
    closed = AccountClosed.model_validate(
        {"account_id": "A-1", "status": "cured", "closed_at": AT.isoformat(), "outstanding_minor": 0}
    )
    assert closed.ref == AccountRef(account_id="A-1", workflow_id="", ladder_life="")
