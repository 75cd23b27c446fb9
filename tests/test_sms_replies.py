"""Reading a debtor's text: Twilio's keywords as whole messages, the debtor's news at the start of a text."""

from pathlib import Path

import pytest

from dunning.replies import REPLIES_FILE, RepliesError, classify, load_replies, opt_out_confirmation
from standins.twilio_api import STOP_WORDS


@pytest.fixture(scope="module")
def vocabulary():
    return load_replies()


@pytest.mark.parametrize(
    ("body", "intent"),
    [
        ("STOP", "opt_out"),
        (" stop. ", "opt_out"),
        ("Unsubscribe!", "opt_out"),
        ("ＳＴＯＰ", "opt_out"),
        ("退订", "opt_out"),
        ("td", "opt_out"),
        ("END", "opt_out"),
        ("Revoke", "opt_out"),  # revocation words (FCC 24-24) revoke as STOP does
        ("OPTOUT", "opt_out"),
        ("opt out", "opt_out"),
        ("Opt-Out.", "opt_out"),
        ("Start", "opt_in"),
        ("yes", "opt_in"),
        ("UNSTOP", "opt_in"),
        ("help?", "help"),
        ("Info", "help"),
        ("PAID", "says_paid"),
        ("I paid yesterday at the branch", "says_paid"),
        ("already paid!!", "says_paid"),
        ("已还款", "says_paid"),
        ("已还款了，请查收", "says_paid"),
        ("还了", "says_paid"),
        ("CALL ME", "callback_requested"),
        ("call me after 6pm", "callback_requested"),
        ("Call.", "callback_requested"),
        ("请来电", "callback_requested"),
        ("回电，谢谢", "callback_requested"),
    ],
)
def test_replies_are_read_as_the_debtor_meant_them(vocabulary, body, intent):
    assert classify(body, vocabulary) == intent


@pytest.mark.parametrize(
    "body",
    [
        "stop calling my mother",  # Twilio's keywords count only as the whole message
        "I revoke nothing, I will pay",
        "yes I will pay on Friday",
        "called you twice today",  # 'call' as a word, not the start of 'called'
        "who is this?",
        "I have not paid",
        "",
        "   ",
    ],
)
def test_anything_else_is_other(vocabulary, body):
    assert classify(body, vocabulary) == "other"


@pytest.mark.parametrize(
    ("body", "locale"),
    [("opt out", "en"), ("Opt-Out.", "en"), ("OPT  OUT", "en"), ("退订", "zh"), ("TD", "zh"), ("td!", "zh")],
)
def test_an_opt_out_twilio_does_not_act_on_is_confirmed_in_the_language_of_its_word(vocabulary, body, locale):
    assert opt_out_confirmation(body, vocabulary) == vocabulary.opt_out_confirmation.in_locale(locale)


@pytest.mark.parametrize(
    "body",
    [
        "STOP",  # Twilio confirms its own keywords: a second text would be one too many
        " Stop. ",  # Twilio may have taken it as STOP: better no text of ours than a second one
        "unsubscribe",
        "REVOKE",
        "OptOut",
        "START",
        "HELP",
        "PAID",
        "opt out of what?",
        "退订了吗",
        "",
    ],
)
def test_no_confirmation_after_twilios_own_keywords_or_anything_but_an_opt_out(vocabulary, body):
    assert opt_out_confirmation(body, vocabulary) is None


def test_the_words_twilio_acts_on_are_those_the_twilio_stand_in_acts_on(vocabulary):
    assert {word.upper() for word in vocabulary.twilio_opt_out} == STOP_WORDS


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sms_replies.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def shipped_with(change: tuple[str, str]) -> str:
    old, new = change
    text = REPLIES_FILE.read_text(encoding="utf-8")
    assert old in text
    return text.replace(old, new)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (("help:\n", "helpp:\n"), "helpp"),  # a misspelt intent is not silently ignored
        (("[HELP, INFO]", "[HELP, PAID]"), "'paid' is under both help and says_paid"),
        (("[HELP, INFO]", "[HELP, '?!']"), "help has a keyword that is only spaces or punctuation"),
        (('"YES"', "YES"), "opt_in.en.1"),  # bare YES is a YAML boolean
        (('zh: "您已退订', 'zh_cn: "您已退订'), "opt_out_confirmation.zh_cn: Extra inputs are not permitted"),
        (
            ('zh: "您已退订', 'zh: "  "  # "您已退订'),
            "opt_out_confirmation.zh: String should have at least 1 character",
        ),
        (("opt_out_confirmation:\n", "opt_out_confirmations:\n"), "opt_out_confirmation: Field required"),
        (("OPTOUT]", "OPTOUT, OPT OUT]"), "twilio_opt_out: 'OPT OUT' is not a single word"),
        (("OPTOUT]", "OPTOUT, HALT]"), "twilio_opt_out: 'HALT' is not an opt_out word"),
    ],
)
def test_a_bad_vocabulary_names_the_file_and_what_is_wrong(tmp_path, change, problem):
    path = write(tmp_path, shipped_with(change))

    with pytest.raises(RepliesError) as error:
        load_replies(path)

    assert str(error.value).startswith(str(path)) and problem in str(error.value)


def test_an_unreadable_vocabulary_names_the_file(tmp_path):
    with pytest.raises(RepliesError, match="missing.yaml: cannot be read"):
        load_replies(tmp_path / "missing.yaml")
    with pytest.raises(RepliesError, match="not valid YAML"):
        load_replies(write(tmp_path, "opt_out: [STOP"))
