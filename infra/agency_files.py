"""The files agencies take placements and recalls from: one CSV per placement event, in the agency's own column
order, written whole or not at all (a temporary name, then a rename) so an agency never reads half a file."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from dunning.ladder import dpd_at
from dunning.money import to_major
from dunning.orders import PlacementRecorded


def placement_row(recorded: PlacementRecorded) -> dict[str, str]:
    account, placement = recorded.account, recorded.placement
    first = {}
    for point in recorded.contact_points:
        if point.owner == "debtor":
            first.setdefault(point.kind, point.value)
    return {
        "placement_ref": placement.placement_ref,
        "account_id": account.account_id,
        "creditor": account.creditor,
        "debtor_name": account.debtor_name,
        "mobile": first.get("mobile", ""),
        "home_phone": first.get("home_phone", ""),
        "work_phone": first.get("work_phone", ""),
        "email": first.get("email", ""),
        "address": first.get("address", ""),
        "currency": account.currency,
        "placed_amount": str(to_major(placement.placed_minor, account.currency)),
        "due_date": account.due_date.isoformat(),
        "dpd": str(dpd_at(account, placement.placed_at)),
        "placed_on": placement.placed_at.date().isoformat(),
        "recall_on": placement.recall_at.date().isoformat(),
        "commission_rate": str(placement.commission_rate),
    }


def write_placement_file(drop_dir: Path, recorded: PlacementRecorded) -> Path:
    """`<drop>/<agency>/placement-<ref>.csv` when a placement begins, `recall-<ref>.csv` when it ends (the
    recall names the account and why, nothing more). Writing it again writes the same file."""
    placement = recorded.placement
    folder = drop_dir / placement.agency_id
    folder.mkdir(parents=True, exist_ok=True)
    if recorded.event == "placed":
        name, columns = f"placement-{placement.placement_ref}.csv", recorded.file_columns
        row = placement_row(recorded)
    else:
        name, columns = f"recall-{placement.placement_ref}.csv", ["placement_ref", "account_id", "reason"]
        row = {
            "placement_ref": placement.placement_ref,
            "account_id": recorded.account.account_id,
            "reason": recorded.reason,
        }
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerow(row)
    target = folder / name
    partial = target.with_name(name + ".partial")
    partial.write_text(text.getvalue(), encoding="utf-8")
    partial.rename(target)
    return target
