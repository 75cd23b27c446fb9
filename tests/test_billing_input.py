"""What billing and ops type or upload is checked before anything reaches Temporal, and a mistake is one clear
line that names the field (and, in a CSV, the line)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from client.inputs import InputError, parse_csv, parse_json_document, parse_payment

ROOT = Path(__file__).resolve().parent.parent
# A port nothing listens on: if a command ever got past validation it would fail to connect, never open accounts.
NO_TEMPORAL = "127.0.0.1:1"


def document(**changes) -> dict:
    doc = {
        "account_id": "LOAN-0001",
        "debtor_name": "Li Lei",
        "contact_points": [
            {"kind": "mobile", "value": "+8613800000001"},
            {"kind": "address", "value": "1 Test Road, Shanghai"},
        ],
        "time_zone": "Asia/Shanghai",
        "currency": "CNY",
        "amount_due_minor": 250_050,
        "due_date": "2026-01-15",
        "policy": "consumer_loan",
    }
    doc.update(changes)
    return doc


def refusal(text: str) -> str:
    with pytest.raises(InputError) as caught:
        parse_json_document(text)
    message = str(caught.value)
    assert "\n" not in message, message  # one line
    return message


# --- one account document (JSON) ------------------------------------------------------------------------------


def test_a_valid_document_is_accepted():
    doc = parse_json_document(json.dumps(document()))
    assert (doc.account_id, doc.amount_due_minor, doc.due_date) == ("LOAN-0001", 250_050, date(2026, 1, 15))


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("time_zone", "Asia/Shangai", "time_zone: Value error, unknown time zone 'Asia/Shangai'"),
        ("currency", "RMB", "currency: Value error, unknown currency 'RMB'"),
        ("amount_due_minor", -100, "amount_due_minor: Input should be greater than 0"),
        ("due_date", "15/01/2026", "due_date: Input should be a valid date"),
        ("due_date", "2026-02-30", "due_date: Input should be a valid date"),
    ],
)
def test_a_bad_field_is_named_in_one_line(field, value, expected):
    assert expected in refusal(json.dumps(document(**{field: value})))


def test_an_unknown_policy_is_refused_listing_the_known_ones():
    message = refusal(json.dumps(document(policy="mortgage")))
    assert "unknown policy 'mortgage'" in message
    assert (
        "known policies: b2b_receivables, consumer_loan, consumer_loan_plan_offer, property_fees, us_consumer_loan"
        in message
    )


def test_a_phone_in_national_format_is_kept_in_e164_and_one_its_country_does_not_use_is_refused():
    doc = parse_json_document(json.dumps(document(contact_points=[{"kind": "mobile", "value": "138 0000 0001"}])))
    assert (doc.country, doc.contact_points[0].value, doc.contact_points[0].line_type) == (
        "CN",
        "+8613800000001",
        "mobile",
    )
    bad = document(contact_points=[{"kind": "mobile", "value": "138 0000 001"}])
    assert refusal(json.dumps(bad)) == "account document: contact_points.0.value: not a valid phone number for CN"


def test_an_account_id_that_is_the_debtors_phone_number_is_refused():
    """Workflow ids and logs are not sealed: an id made of the mobile number would show it to anyone."""
    message = refusal(json.dumps(document(account_id="13800000001")))
    assert "account_id repeats a phone number of the account: use billing's account number" in message


def test_text_that_is_not_json_is_refused():
    assert refusal('{"account_id": "LOAN-0001",').startswith("account document is not valid JSON")


def test_json_that_is_not_an_object_is_refused():
    assert refusal("[]") == "account document: expected a JSON object"


def test_a_policy_name_that_is_a_path_is_refused():
    refusal(json.dumps(document(policy="../policies/consumer_loan")))


# --- a batch (CSV) --------------------------------------------------------------------------------------------

HEADER = "account_id,debtor_name,mobile,address,time_zone,currency,amount_due,due_date,policy,locale"
ANN = "LOAN-0001,Ann Lee,+8613800000001,1 Test Road,Asia/Shanghai,CNY,2500.50,2026-01-15,consumer_loan,zh"
BOB = "LOAN-0002,Bob Ito,+819012345678,2 Test Street,Asia/Tokyo,JPY,1500,2026-01-20,consumer_loan,en"


def write_csv(tmp_path: Path, *lines: str, name: str = "batch.csv", bom: bool = False) -> Path:
    path = tmp_path / name
    path.write_text(("\ufeff" if bom else "") + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def csv_refusal(path: Path) -> str:
    with pytest.raises(InputError) as caught:
        parse_csv(path)
    message = str(caught.value)
    assert "\n" not in message, message
    assert message.startswith(str(path)), message
    return message


def test_a_valid_csv_becomes_documents_with_amounts_in_minor_units(tmp_path):
    ann, bob = parse_csv(write_csv(tmp_path, HEADER, ANN, BOB))
    assert (ann.account_id, ann.currency, ann.amount_due_minor, ann.locale) == ("LOAN-0001", "CNY", 250_050, "zh")
    assert (bob.account_id, bob.currency, bob.amount_due_minor, bob.locale) == ("LOAN-0002", "JPY", 1500, "en")
    assert [(p.kind, p.value) for p in ann.contact_points] == [("mobile", "+8613800000001"), ("address", "1 Test Road")]
    assert ann.due_date == date(2026, 1, 15)


def test_a_bad_phone_or_email_in_a_row_is_refused_naming_line_and_column(tmp_path):
    header = HEADER.replace("mobile,", "mobile,home_phone,email,")
    row = ANN.replace("+8613800000001,", "+8613800000001,021 6123 456,li@@example.com,")
    message = csv_refusal(write_csv(tmp_path, header, row))
    assert ", line 2: home_phone: not a valid phone number for CN; email: not a valid e-mail address: " in message


def test_a_row_may_write_its_numbers_nationally_in_the_country_it_names(tmp_path):
    header = HEADER + ",country"
    row = "LOAN-0003,Cy Doe,(416) 555-0100,3 Test Lane,America/Toronto,CAD,99,2026-01-20,consumer_loan,en,CA"
    (doc,) = parse_csv(write_csv(tmp_path, header, row))
    assert (doc.country, doc.points("mobile")[0].value) == ("CA", "+14165550100")


def test_one_bad_row_refuses_the_whole_file_naming_line_and_column(tmp_path):
    bad = BOB.replace("Asia/Tokyo", "Asia/Tokio")
    message = csv_refusal(write_csv(tmp_path, HEADER, ANN, bad, ANN.replace("LOAN-0001", "LOAN-0003")))
    assert ", line 3: time_zone: Value error, unknown time zone 'Asia/Tokio'" in message


def test_an_amount_with_too_many_decimals_names_line_and_column(tmp_path):
    message = csv_refusal(write_csv(tmp_path, HEADER, ANN.replace("2500.50", "2500.505")))
    assert ", line 2: amount_due: amount '2500.505' has more decimals than CNY allows" in message


def test_a_duplicated_account_id_is_refused(tmp_path):
    message = csv_refusal(write_csv(tmp_path, HEADER, ANN, BOB.replace("LOAN-0002", "LOAN-0001")))
    assert ", line 3: account_id 'LOAN-0001' appears twice in the file" in message


def test_missing_columns_are_named(tmp_path):
    message = csv_refusal(
        write_csv(
            tmp_path, "account_id,debtor_name,mobile,currency,amount_due", "LOAN-0001,Ann Lee,+8613800000001,CNY,10"
        )
    )
    assert message.endswith("missing column(s) time_zone, due_date")


def test_a_file_with_only_a_header_is_refused(tmp_path):
    assert csv_refusal(write_csv(tmp_path, HEADER)).endswith("no accounts in the file")


@pytest.mark.parametrize(
    "first_row",
    [
        ANN.replace("1 Test Road", '"1 Test Road\nFlat 2"'),
        ANN + "\n",
    ],
    ids=["address over two lines", "blank line after the first row"],
)
def test_the_line_number_is_the_line_in_the_file(tmp_path, first_row):
    bad = BOB.replace("Asia/Tokyo", "Asia/Tokio")
    assert ", line 4: time_zone" in csv_refusal(write_csv(tmp_path, HEADER, first_row, bad))


def test_a_csv_saved_by_excel_with_a_bom_imports(tmp_path):
    assert len(parse_csv(write_csv(tmp_path, HEADER, ANN, bom=True))) == 1


def test_a_short_row_is_refused_naming_its_line(tmp_path):
    assert ", line 3" in csv_refusal(write_csv(tmp_path, HEADER, ANN, "LOAN-0002,Bob Ito,+819012345678"))


def test_an_unknown_currency_is_reported_under_the_currency_column(tmp_path):
    message = csv_refusal(write_csv(tmp_path, HEADER, ANN.replace(",CNY,", ",RMB,")))
    assert ", line 2: currency:" in message


# --- a payment typed by ops -----------------------------------------------------------------------------------


def payment_refusal(*args, **kwargs) -> str:
    with pytest.raises(InputError) as caught:
        parse_payment(*args, **kwargs)
    assert "\n" not in str(caught.value)
    return str(caught.value)


def test_a_valid_payment_is_in_minor_units_with_its_offset():
    payment = parse_payment("120.50", "P1", "CNY", "2026-01-20T10:00:00+08:00")
    assert (payment.payment_id, payment.amount_minor, payment.currency) == ("P1", 12_050, "CNY")
    assert payment.paid_at == datetime(2026, 1, 20, 2, 0, tzinfo=UTC)


def test_a_payment_without_a_time_is_dated_now():
    payment = parse_payment("10", "P1", "CNY")
    assert abs(payment.paid_at - datetime.now(UTC)) < timedelta(minutes=1)


@pytest.mark.parametrize("amount", ["-5", "0", "0.00"])
def test_a_payment_that_is_not_positive_is_refused(amount):
    assert payment_refusal(amount, "P1", "CNY") == f"--amount must be positive, got {amount}"


def test_a_payment_with_too_many_decimals_is_refused():
    assert payment_refusal("10.005", "P1", "CNY").startswith("--amount: amount '10.005' has more decimals than CNY")
    assert payment_refusal("10.5", "P1", "JPY").startswith("--amount: amount '10.5' has more decimals than JPY")


def test_a_payment_time_without_an_offset_is_refused():
    assert "needs a UTC offset" in payment_refusal("10", "P1", "CNY", "2026-01-20T10:00:00")


def test_a_malformed_payment_time_is_refused():
    assert (
        payment_refusal("10", "P1", "CNY", "20/01/2026 10:00")
        == "--paid-at: '20/01/2026 10:00' is not an ISO 8601 date-time"
    )


def test_an_empty_payment_id_is_refused():
    assert "payment" in payment_refusal("10", "", "CNY")


# --- the command line -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli(tmp_path_factory) -> dict[str, subprocess.CompletedProcess]:
    """Each command run once, all side by side (a fresh Python process takes about a second to start)."""
    directory = tmp_path_factory.mktemp("cli")
    bad_json = directory / "account.json"
    bad_json.write_text(json.dumps(document(currency="RMB")), encoding="utf-8")
    bad_csv = write_csv(directory, HEADER, ANN, BOB.replace("Asia/Tokyo", "Asia/Tokio"))
    bad_phone_json = directory / "bad-phone.json"
    bad_phone_json.write_text(json.dumps(document(contact_points=[{"kind": "mobile", "value": "1380"}])))
    bad_phone_csv = write_csv(directory, HEADER, ANN, BOB.replace("+819012345678", "090 1234"), name="phones.csv")
    commands = {
        "open bad document": ["accounts", "open", str(bad_json)],
        "import bad row": ["accounts", "import", str(bad_csv)],
        "open bad phone": ["accounts", "open", str(bad_phone_json)],
        "import bad phone": ["accounts", "import", str(bad_phone_csv)],
        "update bad email": [
            *("contacts", "update", "X", "--id", "U1", "--kind", "email", "--value", "li@@example.com"),
            *("--source", "tracing"),
        ],
        "pay negative": ["payments", "pay", "X", "--amount", "-5", "--payment-id", "P"],
        "a bad choice": ["disputes", "open", "X", "--id", "D1", "--subject", "weather", "--details", "rain"],
        "an old command": ["pay", "X", "--amount", "5", "--payment-id", "P"],
        "help": ["--help"],
    }
    env = {**os.environ, "TEMPORAL_ADDRESS": NO_TEMPORAL}
    running = {
        name: subprocess.Popen(
            [sys.executable, "starter.py", *args],
            cwd=ROOT,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for name, args in commands.items()
    }
    results = {}
    for name, process in running.items():
        stdout, stderr = process.communicate(timeout=60)
        results[name] = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    return results


def assert_one_error_line(result: subprocess.CompletedProcess) -> str:
    lines = result.stderr.splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert result.stdout == ""
    return lines[0]


def test_open_with_a_bad_document_exits_2_with_one_error_line(cli):
    line = assert_one_error_line(cli["open bad document"])
    assert "currency: Value error, unknown currency 'RMB'" in line


def test_import_of_a_csv_with_a_bad_row_exits_2_with_one_error_line(cli):
    assert ", line 3: time_zone:" in assert_one_error_line(cli["import bad row"])


def test_open_and_import_with_a_bad_phone_exit_2_naming_the_field_before_reaching_temporal(cli):
    assert assert_one_error_line(cli["open bad phone"]).endswith(
        "contact_points.0.value: not a valid phone number for CN"
    )
    assert assert_one_error_line(cli["import bad phone"]).endswith(", line 3: mobile: not a valid phone number for JP")


def test_a_contact_update_with_a_bad_email_exits_2_naming_the_field_before_reaching_temporal(cli):
    line = assert_one_error_line(cli["update bad email"])
    assert line.startswith("error: contact update: point.value: not a valid e-mail address: ")


def test_pay_with_a_negative_amount_exits_2_with_one_error_line(cli):
    assert "--amount must be positive" in assert_one_error_line(cli["pay negative"])


def test_a_choice_outside_the_models_literal_exits_2_with_one_error_line(cli):
    assert "'weather' is not one of 'debt', 'collector', 'sales', 'approval'" in assert_one_error_line(
        cli["a bad choice"]
    )


def test_an_unknown_command_exits_2_with_one_error_line(cli):
    assert "No such command 'pay'" in assert_one_error_line(cli["an old command"])


NOUNS = [
    *("accounts", "payments", "balance", "disputes", "debtors", "contacts", "promises", "plans", "concessions"),
    *("fraud", "calls", "replies", "collectors", "visits", "letters", "statements", "agencies", "bureau", "approvals"),
    *("compliance", "reports", "operators", "keys", "deploys", "simulate"),
]


def listed_commands(help_text: str) -> list[str]:
    return [line.split()[0] for line in help_text.split("Commands:")[1].splitlines() if line.strip()]


def test_the_console_script_and_starter_list_the_same_nouns(cli):
    script = subprocess.run(
        [str(Path(sys.executable).parent / "collections"), "--help"], capture_output=True, text=True, timeout=60
    )
    for result in (cli["help"], script):
        assert result.returncode == 0, result.stderr
        assert listed_commands(result.stdout) == NOUNS


def test_a_misspelt_column_is_refused_rather_than_dropped(tmp_path):
    header = HEADER.replace("locale", "locael")
    assert csv_refusal(write_csv(tmp_path, header, ANN)).endswith("unknown column(s) locael")
