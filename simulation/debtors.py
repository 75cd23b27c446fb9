"""The simulated debtors: each day, what each debtor does about what the account did to them that day, drawn from the
behaviour file with randomness of their own (simulation/draws.py). What they do is the real payloads, which the
simulator hands to the real client: outcomes of calls, promises and the money that keeps them, plans, disputes, STOP.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal, cast

from dunning.account import PaymentReceived
from dunning.commitments import Instalment, PlanProposed, PromiseMade
from dunning.contact import CeaseContact
from dunning.disputes import DisputeOpened, DisputeResolved
from dunning.outcomes import ContactOutcome, OutcomeCode
from simulation.behaviour import Behaviour, Chances
from simulation.draws import Draws

Reaction = (
    PaymentReceived | ContactOutcome | PromiseMade | PlanProposed | DisputeOpened | DisputeResolved | CeaseContact
)
ContactKind = Literal["call", "text", "letter", "plan_offer"]
COLLECTOR = "sim-collector"


@dataclass(frozen=True)
class Contact:
    """Something the account did to the debtor: a day the collectors called, a text Twilio took, a letter queued, or
    a plan offered (by text, which is a text too, or in the hardship review); `key` names it within the account."""

    kind: ContactKind
    key: str


@dataclass(frozen=True)
class AccountToday:
    """What the database says of an account at the simulator's hour."""

    account_id: str
    segment: str
    dpd: int
    owed_minor: int
    currency: str
    on_hold: bool
    mobile: str | None


@dataclass
class Memory:
    """What a debtor remembers from one day to the next: money promised or planned, a dispute waiting for its answer,
    texts stopped."""

    promised: tuple[date, int] | None = None  # the day, and what the debtor will really pay (0: broken)
    instalments: list[tuple[str, Instalment]] = field(default_factory=list)  # (draw key, instalment) still to pay
    dispute: tuple[str, date] | None = None  # its id, and when the creditor answers
    texts_stopped: bool = False

    @property
    def committed(self) -> bool:
        return self.promised is not None or bool(self.instalments)


class Debtors:
    """The portfolio's debtors under one behaviour and one seed."""

    def __init__(self, behaviour: Behaviour, seed: int) -> None:
        self.behaviour = behaviour
        self.seed = seed
        self.memories: dict[str, Memory] = {}

    def day(self, account: AccountToday, contacts: list[Contact], today: date, now: datetime) -> list[Reaction]:
        """What the debtor does today, in the order the account is told."""
        memory = self.memories.setdefault(account.account_id, Memory())
        return _Day(self, memory, account, today, now).react(contacts)

    def plan_refused(self, account_id: str) -> None:
        """The account refused the plan (it did not fit the policy's limits): the debtor pays no instalment of it."""
        self.memories[account_id].instalments.clear()


class _Day:
    """One debtor's day: the money owed goes down as they pay, so no one pays twice what they owe."""

    def __init__(self, debtors: Debtors, memory: Memory, account: AccountToday, today: date, now: datetime) -> None:
        self.behaviour, self.memory, self.account = debtors.behaviour, memory, account
        self.today, self.now = today, now
        self.chances: Chances = debtors.behaviour.chances_at(account.segment, account.dpd)
        self.draws = Draws(debtors.seed, account.account_id)
        self.owed = account.owed_minor
        self.reactions: list[Reaction] = []
        self.react_to = {
            "call": self._called,
            "text": self._texted,
            "letter": self._written,
            "plan_offer": self._offered_plan,
        }

    def react(self, contacts: list[Contact]) -> list[Reaction]:
        self._money_due()
        self._dispute_answered()
        if self.account.on_hold or self.memory.dispute:
            return self.reactions
        for contact in contacts:
            if self.owed <= 0:
                break
            self.react_to[contact.kind](contact.key)
        if self.owed > 0 and self.owed == self.account.owed_minor and not self.memory.committed:
            if self.draws.happens(f"by-themselves:{self.today}", self.chances.pays_by_themselves):
                self._pay(self.owed, "self")
        return self.reactions

    def _money_due(self) -> None:
        """Promised money and plan instalments falling due today."""
        if self.memory.promised and self.memory.promised[0] <= self.today:
            _, paying = self.memory.promised
            self.memory.promised = None
            if paying:
                self._pay(min(paying, self.owed), "promise")
        while self.memory.instalments and self.memory.instalments[0][1].due_date <= self.today:
            key, instalment = self.memory.instalments.pop(0)
            if not self.draws.happens(key, self.chances.keeps_instalment):
                self.memory.instalments.clear()  # one missed and the plan is broken: the debtor stops paying it
                break
            self._pay(min(instalment.amount_minor, self.owed), "instalment")

    def _dispute_answered(self) -> None:
        if self.memory.dispute is None or self.memory.dispute[1] > self.today:
            return
        dispute_id, _ = self.memory.dispute
        self.memory.dispute = None
        cancelled = self.draws.happens(f"cancelled:{dispute_id}", self.behaviour.dispute.cancelled)
        self.reactions.append(
            DisputeResolved(
                dispute_id=dispute_id,
                outcome="debt_cancelled" if cancelled else "debt_confirmed",
                resolved_at=self.now,
            )
        )

    def _called(self, key: str) -> None:
        if not self.draws.happens(f"answers:{key}", self.chances.answers_call):
            self._outcome(key, "no_answer")
        elif self.memory.committed:
            self._outcome(key, "reached")  # a confirmation call: the promise or plan stands
        elif self.draws.happens(f"promises:{key}", self.chances.promises):
            self._outcome(key, "promised")
            self._promise(key)
        else:
            shares = {
                "unable_to_pay": self.chances.says_unable_to_pay,
                "unwilling_to_pay": self.chances.says_unwilling_to_pay,
            }
            self._outcome(key, cast(OutcomeCode, self.draws.pick(f"why-not:{key}", shares) or "reached"))
            if self.draws.happens(f"disputes:{key}", self.chances.disputes):
                self._dispute(key)

    def _texted(self, key: str) -> None:
        if self.memory.texts_stopped:
            return
        if self.draws.happens(f"stop:{key}", self.chances.replies_stop):
            self.memory.texts_stopped = True
            self.reactions.append(
                CeaseContact(
                    request_id=f"STOP-{key}"[:128], channels=["sms"], reason="replied STOP", received_at=self.now
                )
            )
            return
        shares = {"full": self.chances.pays_after_text_in_full, "part": self.chances.pays_after_text_in_part}
        self._pays_unprompted(self.draws.pick(f"pays-after:{key}", shares))

    def _written(self, key: str) -> None:
        shares = {"full": self.chances.pays_after_letter_in_full, "part": self.chances.pays_after_letter_in_part}
        self._pays_unprompted(self.draws.pick(f"pays-after:{key}", shares))

    def _offered_plan(self, key: str) -> None:
        if self.memory.committed or self.owed != self.account.owed_minor:
            return
        if not self.draws.happens(f"accepts-plan:{key}", self.chances.accepts_plan):
            return
        terms = self.behaviour.plan
        count = min(terms.instalments, self.owed)
        amounts = [self.owed // count] * count
        amounts[-1] += self.owed - sum(amounts)
        first = self.today + timedelta(days=terms.first_after_days)
        instalments = [
            Instalment(amount_minor=amount, due_date=first + timedelta(days=terms.every_days * n))
            for n, amount in enumerate(amounts)
        ]
        plan_id = f"PLAN-{self.today}"
        self.memory.instalments = [(f"instalment:{plan_id}:{n}", i) for n, i in enumerate(instalments)]
        self.reactions.append(
            PlanProposed(
                plan_id=plan_id, instalments=instalments, cause="income_drop", agreed_by=COLLECTOR, agreed_at=self.now
            )
        )

    def _pays_unprompted(self, how: str | None) -> None:
        if self.memory.committed:
            return  # the promise or plan says when they pay
        if how == "full":
            self._pay(self.owed, "unprompted")
        elif how == "part":
            self._pay(self._part(f"part:{self.today}:{len(self.reactions)}"), "unprompted")

    def _promise(self, key: str) -> None:
        days = self.behaviour.promise_days_out
        promised_date = self.today + timedelta(days=self.draws.whole(f"promise-day:{key}", days.first, days.last))
        shares = {"full": self.chances.keeps_promise_in_full, "part": self.chances.keeps_promise_in_part}
        keeps = self.draws.pick(f"keeps:{key}", shares)
        paying = {"full": self.owed, "part": self._part(f"part-of-promise:{key}"), None: 0}[keeps]
        self.memory.promised = (promised_date, paying)
        self.reactions.append(
            PromiseMade(
                promise_id=f"PTP-{self.today}",
                amount_minor=self.owed,
                promised_date=promised_date,
                channel="call",
                taken_by=COLLECTOR,
                made_at=self.now,
            )
        )

    def _dispute(self, key: str) -> None:
        dispute_id = f"DSP-{self.today}"
        self.memory.dispute = (dispute_id, self.today + timedelta(days=self.behaviour.dispute.resolved_after_days))
        self.reactions.append(
            DisputeOpened(
                dispute_id=dispute_id, subject="debt", details="says the debt is not theirs", opened_at=self.now
            )
        )

    def _outcome(self, key: str, code: OutcomeCode) -> None:
        self.reactions.append(
            ContactOutcome(
                outcome_id=f"O-{key}"[:128],
                code=code,
                source="collector",
                contact_point=self.account.mobile,
                reported_by=COLLECTOR,
                occurred_at=self.now,
            )
        )

    def _part(self, event: str) -> int:
        share = self.behaviour.part_payment
        return max(1, min(self.owed - 1, round(self.owed * self.draws.between(event, share.low, share.high))))

    def _pay(self, amount_minor: int, why: str) -> None:
        if amount_minor <= 0:
            return
        self.owed -= amount_minor
        self.reactions.append(
            PaymentReceived(
                payment_id=f"SIM-{self.today}-{why}-{len(self.reactions)}",
                amount_minor=amount_minor,
                currency=self.account.currency,
                paid_at=self.now,
            )
        )
