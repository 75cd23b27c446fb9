"""The worker's metrics on one Prometheus endpoint: the SDK's own (workers, polls, task latencies) and the business's
counters and histograms, recorded through the SDK's meter so both are scraped together.

Every business metric's name and labels are here. Labels are codes (channel, verdict, currency, policy, kind,
outcome, the kind of news), never an account id or anything of the debtor's. The workflow records through
`workflow.metric_meter()`, which the SDK keeps silent while a history replays, so a decision counts once; the
activities through `activity.metric_meter()`: the guard's evidence as its row is inserted (a retry finds the row and
counts nothing), and each hand-over to a vendor.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from temporalio.common import MetricMeter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from dunning.money import to_major

CONTACTS = "collections_contacts_total"
STEPS_FAILED = "collections_steps_failed_total"
PAYMENTS = "collections_payments_total"
PAYMENT_AMOUNT = "collections_payment_amount"
CURES = "collections_cures_total"
PROMISES = "collections_promises_total"
NEWS_REFUSED = "collections_signals_refused_total"
CHANNEL_LATENCY = "collections_channel_latency_seconds"

# Bucket boundaries are ours. A vendor's answer (Twilio's API, the mail relay): tens of milliseconds when well, up to
# the client's timeouts when not.
CHANNEL_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# A payment in major units of its currency: from a part payment of a fee to a whole B2B balance.
PAYMENT_AMOUNT_BUCKETS = (10.0, 50.0, 100.0, 500.0, 1_000.0, 5_000.0, 10_000.0, 50_000.0, 100_000.0, 1_000_000.0)

# A commitment's record says `open` when it is made.
PROMISE_OUTCOMES = {"open": "made"}


def prometheus_runtime(bind_address: str) -> Runtime:
    """A runtime serving http://<bind_address>/metrics. One per process and address: the worker's client takes it,
    and every worker on that client reports there. Durations in seconds, as Prometheus counts them."""
    return Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(
                bind_address=bind_address,
                durations_as_seconds=True,
                histogram_bucket_overrides={
                    CHANNEL_LATENCY: CHANNEL_LATENCY_BUCKETS,
                    PAYMENT_AMOUNT: PAYMENT_AMOUNT_BUCKETS,
                },
            )
        )
    )


class BusinessMetrics:
    """The business's counters and histograms on a meter (a no-op one when the runtime exports none)."""

    def __init__(self, meter: MetricMeter) -> None:
        self._meter = meter

    def contact_judged(self, channel: str, verdict: str) -> None:
        """The contact guard's verdict on a step, as its evidence row records it: allowed, deferred or blocked."""
        counter = self._meter.create_counter(CONTACTS, "Contacts the guard judged, by channel and verdict")
        counter.add(1, {"channel": channel, "verdict": verdict})

    def step_failed(self, channel: str) -> None:
        """A step whose activity failed for good (a bad order, not an outage)."""
        self._meter.create_counter(STEPS_FAILED, "Steps failed for good, by channel").add(1, {"channel": channel})

    def payment_applied(self, currency: str, amount_minor: int) -> None:
        """A payment the ledger applied (refused ones count as refused news)."""
        attributes = {"currency": currency}
        self._meter.create_counter(PAYMENTS, "Payments applied, by currency").add(1, attributes)
        amount = self._meter.create_histogram_float(PAYMENT_AMOUNT, "Payments applied, in major units of the currency")
        amount.record(float(to_major(amount_minor, currency)), attributes)

    def cured(self, policy: str) -> None:
        self._meter.create_counter(CURES, "Accounts closed as cured, by policy").add(1, {"policy": policy})

    def commitment(self, kind: str, status: str) -> None:
        """A promise or plan recorded: made, kept, kept in part, broken, replaced, rejected or closed."""
        counter = self._meter.create_counter(PROMISES, "Promises and plans, by kind and outcome")
        counter.add(1, {"kind": kind, "outcome": PROMISE_OUTCOMES.get(status, status)})

    def news_refused(self, kind: str) -> None:
        """A signal or update the account refused (unreadable, or against its rules), by the kind of news it brought:
        the signal's name, or the news' own for an update (plan_proposed, approval_decision) and a few signals."""
        counter = self._meter.create_counter(NEWS_REFUSED, "Signals and updates refused, by kind of news")
        counter.add(1, {"kind": kind})

    @contextmanager
    def vendor_call(self, channel: str) -> Iterator[None]:
        """Times a hand-over to the channel's vendor, whatever it answers (or raises)."""
        started = time.monotonic()
        try:
            yield
        finally:
            latency = self._meter.create_histogram_float(CHANNEL_LATENCY, "Vendor answer time, by channel", "s")
            latency.record(time.monotonic() - started, {"channel": channel})
