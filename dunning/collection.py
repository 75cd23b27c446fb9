"""One account under collection: its pinned policy, its carried state, and the holds every concern's rules share.

Pure and deterministic: each concern's module (ledger, disputes, verification, commitments, outcomes, fraud,
placements, approvals) takes a `Collection` with the piece of news and the business time, and answers a `Change`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from dunning import ladder, limitation, statements
from dunning.account import PHONE_KINDS, AccountDocument, local_date
from dunning.channels import ThirdParties
from dunning.compliance import ContactMade, ContactRules, DebtorReach, third_party_refusal
from dunning.disputes import first_collector_queue, pauses_collection
from dunning.outcomes import ContactBook
from dunning.policy import Policy
from dunning.state import AccountState, AccountStatus
from dunning.statements import STATEMENT
from dunning.treatment import Treatment

Skipped = list[ladder.PlannedStep]


class Collection:
    def __init__(
        self,
        account: AccountDocument,
        policy: Policy,
        state: AccountState,
        treatment_replaces_catch_up: bool = True,
        treatment: Treatment | None = None,
    ) -> None:
        self.document = account  # as billing sent it
        self.policy = policy
        self.state = state
        self.account = self.collected()  # as collection reads it: dpd from the oldest unpaid invoice
        # Runs started before this rule keep the old one (the workflow passes its patch marker).
        self.treatment_replaces_catch_up = treatment_replaces_catch_up
        self.treatment = treatment  # segment, experiment arm; None for accounts opened before segments
        self.plan = self.planned()
        # States carried from before collector queues and contact books existed get theirs now.
        state.collector_queue = state.collector_queue or first_collector_queue(policy, account.account_id)
        state.contact_book = state.contact_book or ContactBook.of(account)

    def planned(self) -> list[ladder.PlannedStep]:
        """The ladder of the segment in force, without contact in a hold-out's quiet stages. Counted from a later
        invoice's due date, its rungs are new steps (keys of their own), as for an account arriving late."""
        quiet = self.treatment.quiet_stages if self.treatment else []
        planned = ladder.plan(self.policy, self.account, self.state.segment, quiet)
        due = self.account.due_date
        if due == self.document.due_date:
            return planned
        return [p.model_copy(update={"key": f"{p.key}~{due:%Y%m%d}"}) for p in planned]

    def collected(self) -> AccountDocument:
        """The document as collection reads it: due on the oldest unpaid invoice's day (itself, without invoices). Its
        invoices are the ledger's to keep, as they stand."""
        due = self.state.ledger.dpd_from()
        if due is None or due == self.document.due_date:
            return self.document
        return self.document.model_copy(update={"due_date": due, "invoices": []})

    def follow_due_date(self, now: datetime) -> Skipped:
        """Money or billing changed which invoice is the oldest unpaid: the ladder counts from its due date now. Of
        its rungs already past, only the latest of each channel is still taken, as after a pause."""
        account = self.collected()
        if account.due_date == self.account.due_date:
            return []
        self.account = account
        self.plan = self.planned()
        return self.skip_missed_steps(now) if self.state.status == "open" else []

    @property
    def book(self) -> ContactBook:
        assert self.state.contact_book is not None
        return self.state.contact_book

    # --- pausing, resuming, closing ------------------------------------------------------------------------

    def close_as(self, status: AccountStatus, now: datetime) -> None:
        self.state.status = status
        self.state.closed_at = now
        self.state.paused_since = None
        self.state.agenda = [p for p in self.state.agenda if p.instalment is not None]  # reactions end here

    def pauses_collection(self) -> bool:
        state = self.state
        return (
            bool(state.verifications or state.fraud_claims)
            or self.validation_notice_stuck()
            or any(pauses_collection(d) for d in state.open_disputes)
        )

    def pause(self, now: datetime) -> None:
        if self.state.paused_since is None:
            self.state.paused_since = now

    def resume_if_nothing_pauses(self, now: datetime) -> Skipped:
        if self.state.paused_since is None or self.pauses_collection() or self.state.status != "open":
            return []
        self.state.paused_since = None
        return self.skip_missed_steps(now)

    def skip_missed_steps(self, now: datetime, covered: frozenset[str] = frozenset()) -> Skipped:
        """After a pause, the ladder resumes where the dpd now is: of the steps that fell due meanwhile only the
        latest of each channel is still taken, unless a reaction on that channel goes out now (`covered`).
        Reactions and reminders that fell due meanwhile are stale; the statement cycle's steps go late."""
        pending = [p for p in self.plan if p.key not in set(self.state.done_steps)]
        take, skip = ladder.triage_missed(self.policy, self.account, pending, now)
        skip += [p for p in take if p.channel in covered]
        stale = [p for p in self.state.agenda if p.due_at < now and not p.cause.startswith(STATEMENT)]
        self.state.agenda = [p for p in self.state.agenda if p not in stale]
        self.state.done_steps += [p.key for p in skip]
        return skip + stale

    def reopen(self, now: datetime) -> Skipped:
        """Money taken back from a closed account: the ladder resumes where the dpd now is, like a late arrival
        (steps that fell due while it was closed are skipped, but the latest of each channel)."""
        self.state.status = "open"
        self.state.closed_at = None
        # Money we still hold from after the cure goes against what is owed again.
        self.state.ledger.use_overpayment(self.policy.invoices)
        statements.schedule_month(self, now)  # closing ended the cycle
        return self.skip_missed_steps(now)

    # --- contacts the caps count, and conversations --------------------------------------------------------

    def contact_made(self, contact: ContactMade) -> None:
        """Keeps the contacts the caps can still count."""
        rules = self.policy.contact_rules
        assert rules is not None, "contacts are counted only under a rule set"
        keep = timedelta(days=max([cap.days for cap in rules.caps], default=0))
        self.state.contacts_made = [c for c in self.state.contacts_made if c.at > contact.at - keep] + [contact]

    def spoke_with_debtor(self, when: datetime, now: datetime) -> None:
        """A telephone conversation about the debt: it starts any cool-down and makes the case valid."""
        spoken = min(when, now)
        self.state.last_conversation_at = max(spoken, self.state.last_conversation_at or spoken)

    # --- time-barred debts (12 CFR 1006.26) ------------------------------------------------------------------

    def limitation_ends(self) -> date | None:
        rules = self.policy.contact_rules
        return limitation.limitation_ends(self.account, rules.time_barred if rules else None, self.state.last_paid_at)

    def suit_refusal(self, planned: ladder.PlannedStep, now: datetime) -> str:
        """Why the step, one that threatens suit, may not be taken on this debt now ('' when it may)."""
        action = ladder.step_definition(self.policy, planned)
        return limitation.suit_refusal(action, self.limitation_ends(), local_date(now, self.account.time_zone))

    def time_barred_disclosure(self, now: datetime) -> str:
        """What the account's letters must say of its time-barred debt now ('' when nothing)."""
        rules = self.policy.contact_rules
        today = local_date(now, self.account.time_zone)
        return limitation.disclosure(
            rules.time_barred if rules else None, self.limitation_ends(), today, self.account.locale
        )

    # --- escalations without progress (seeds/001) ------------------------------------------------------------

    def progress_refusal(self, planned: ladder.PlannedStep, now: datetime) -> str:
        """Why an escalation that waits for a lack of progress is not taken ('' when it is): the account paid,
        promised or spoke with us within its days."""
        days = ladder.step_definition(self.policy, planned).without_progress_days
        if days is None:
            return ""
        state, commitment = self.state, self.state.commitment
        progress = [
            (state.last_paid_at, "a payment"),
            (state.last_conversation_at, "a conversation"),
            (commitment.made_at if commitment else None, f"a {commitment.kind}" if commitment else ""),
        ]
        recent = [(at, what) for at, what in progress if at is not None and now - at < timedelta(days=days)]
        if not recent:
            return ""
        at, what = max(recent)
        return f"progress within {days} days ({what} on {local_date(at, self.account.time_zone)}): no escalation"

    # --- contact persons (domain §2, 12 CFR 1006.10) -------------------------------------------------------

    def third_party_refusals(self, now: datetime, dpd: int | None = None) -> dict[str, str]:
        """The contact persons' phones the stage at `dpd` (default: now's) would call but the guard does not let it
        now, with why (none without a rule set, or in a stage that calls no contact persons: its phone order leaves
        them out)."""
        stage = self.policy.stage_at(ladder.dpd_at(self.account, now) if dpd is None else dpd)
        rules = self.policy.contact_rules
        if rules is None or stage is None or stage.third_parties is ThirdParties.none:
            return {}
        return {
            point.value: why
            for point in self.book.usable()
            if point.owner != "debtor" and point.kind in PHONE_KINDS
            if (why := self._third_party_refusal(rules, stage.third_parties, point.value, now))
        }

    def called_third_party(self, value: str, code: str, at: datetime) -> str:
        """Counts a call on a contact person's phone; returns why the rule set did not allow it then ('' if it
        did). A person who asks to be called again may be called once more."""
        rules, stage = self.policy.contact_rules, self.policy.stage_at(ladder.dpd_at(self.account, at))
        breach = ""
        if rules is not None:
            breach = self._third_party_refusal(rules, stage.third_parties if stage else ThirdParties.none, value, at)
        calls = self.state.third_party_calls
        calls[value] = 0 if code == "callback_requested" else calls.get(value, 0) + 1
        return breach

    def _third_party_refusal(self, rules: ContactRules, stage_rule: ThirdParties, value: str, now: datetime) -> str:
        reach = DebtorReach(
            opened_at=self.state.opened_at,
            last_conversation_at=self.state.last_conversation_at,
            phones_lost=self.book.debtor_phones_lost(),
        )
        return third_party_refusal(rules, stage_rule, reach, self.state.third_party_calls.get(value, 0), now)

    # --- the validation notice (12 CFR 1006.34) ------------------------------------------------------------

    def validation_notice_owed(self) -> bool:
        rules = self.policy.contact_rules
        return bool(rules and rules.validation_notice and self.state.validation_notice_sent_at is None)

    def validation_notice_stuck(self) -> bool:
        """Owed but no longer on the agenda: it could not go (no address, a bad order)."""
        notice = self.policy.validation_notice
        return (
            notice is not None
            and self.validation_notice_owed()
            and all(p.step_id != notice.id for p in self.state.agenda)
        )

    def validation_period_ends(self, planned: ladder.PlannedStep, sent: datetime) -> date | None:
        """For the validation notice: the last day of the period it opens if sent at `sent` (receipt assumed the
        rule set's working days later, 12 CFR 1006.34(b)(5)); None for any other step."""
        notice, rules = self.policy.validation_notice, self.policy.contact_rules
        if not (notice and planned.step_id == notice.id and rules and rules.validation_notice):
            return None
        received = self.policy.working_days.add_working_days(
            local_date(sent, self.account.time_zone), rules.validation_notice.receipt_after_working_days
        )
        return received + timedelta(days=rules.validation_notice.period_days)

    def owe_validation_notice(self, now: datetime) -> None:
        """Puts the validation notice first, when the rule set requires one and it has not gone (once at a time:
        a notice that could not go, for want of an address, is put again when one arrives)."""
        notice = self.policy.validation_notice
        if (
            notice is None
            or not self.validation_notice_owed()
            or any(p.step_id == notice.id for p in self.state.agenda)
        ):
            return
        dpd = ladder.dpd_at(self.account, now)
        self.state.agenda.append(
            ladder.AgendaStep(
                key=f"{notice.id}:{now:%Y%m%dT%H%M%S}",
                step_id=notice.id,
                channel=notice.channel.value,
                dpd=dpd,
                stage=ladder.stage_id(self.policy, dpd),
                due_at=now,
                cause="validation notice (12 CFR 1006.34)",
            )
        )
