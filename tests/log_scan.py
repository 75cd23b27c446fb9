"""A pytest plugin: the logs of the whole run are scanned for the debtors' personal data (phone numbers, e-mail
addresses, and the names and addresses the tests' documents use), and a run whose logs show any fails, naming the test
and what it showed. Logs carry account ids and references, never people."""

from __future__ import annotations

import re

import pytest

PERSONAL = re.compile(
    r"\+\d{8,15}"  # a phone number in E.164
    r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)+"  # an e-mail address
    # The debtors, contacts and addresses of the tests' documents (tests/conftest.py, test_sealing.py and others).
    r"|Test Debtor|Test Road|Li Lei|王芳|王䶮|Sealtest|Cipher Lane|Demo Street"
)
# Ours, not a debtor's: the tests' Twilio sender number, and our mail domains (senders, Message-IDs).
OUR_NUMBERS = {"+15005550006"}
OUR_DOMAINS = ("@lender.test", "@localhost")
LEAKS = pytest.StashKey[list[str]]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[LEAKS] = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    for section, text in report.sections:
        if section.startswith("Captured"):
            found = {m.group() for m in PERSONAL.finditer(text)} - OUR_NUMBERS
            if shown := sorted(found - {f for f in found if f.endswith(OUR_DOMAINS)}):
                line = f"{report.nodeid} ({section.lower()}): {', '.join(shown)}"
                if line not in item.config.stash[LEAKS]:
                    item.config.stash[LEAKS].append(line)


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:  # type: ignore[no-untyped-def]
    if leaks := config.stash[LEAKS]:
        terminalreporter.section("personal data in logs", red=True)
        for line in leaks:
            terminalreporter.write_line(line)


def pytest_sessionfinish(session: pytest.Session) -> None:
    if session.config.stash[LEAKS] and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
