"""Custom search attributes ops filter accounts by in the Web UI, e.g. `Stage = "18-29" AND Outstanding > 5000`."""

from temporalio.common import SearchAttributeKey

ACCOUNT_STATUS = SearchAttributeKey.for_keyword("AccountStatus")
STAGE = SearchAttributeKey.for_keyword("Stage")
DPD = SearchAttributeKey.for_int("Dpd")  # as of the account's last wake-up; DueDate gives exact day arithmetic
OUTSTANDING = SearchAttributeKey.for_int("Outstanding")  # whole major units, for filtering only
CURRENCY = SearchAttributeKey.for_keyword("Currency")
POLICY = SearchAttributeKey.for_keyword("Policy")
POLICY_VERSION = SearchAttributeKey.for_int("PolicyVersion")
SEGMENT = SearchAttributeKey.for_keyword("Segment")
STRATEGY = SearchAttributeKey.for_keyword("Strategy")  # experiment/arm, or how the policy was chosen
NEXT_ACTION = SearchAttributeKey.for_keyword("NextAction")
NEXT_ACTION_AT = SearchAttributeKey.for_datetime("NextActionAt")
DUE_DATE = SearchAttributeKey.for_datetime("DueDate")

ALL = [
    ACCOUNT_STATUS,
    STAGE,
    DPD,
    OUTSTANDING,
    CURRENCY,
    POLICY,
    POLICY_VERSION,
    SEGMENT,
    STRATEGY,
    NEXT_ACTION,
    NEXT_ACTION_AT,
    DUE_DATE,
]
