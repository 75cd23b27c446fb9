"""What a debtor's text or e-mail to us means: stop, start again, help, "I paid", "call me", or something else; and
the confirmation an opt-out text gets when Twilio does not send its own.

The words and the confirmation are data (templates/sms_replies.yaml); reading a reply is pure.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import Field, StringConstraints, ValidationError, model_validator

from dunning.account import problems
from dunning.datafile import Strict

REPLIES_FILE = Path(__file__).resolve().parent.parent / "templates" / "sms_replies.yaml"

Intent = Literal["opt_out", "opt_in", "help", "says_paid", "callback_requested", "other"]
# Twilio acts on its keywords only when they are the whole message ("stop calling my mother" is no opt-out);
# the debtor's own news may open a longer text ("paid yesterday at the branch").
WHOLE_MESSAGE: tuple[Intent, ...] = ("opt_out", "opt_in", "help")
LEADING_PHRASE: tuple[Intent, ...] = ("says_paid", "callback_requested")
Locale = Literal["en", "zh"]
LOCALES: tuple[Locale, ...] = ("en", "zh")
Word = Annotated[str, Field(min_length=1)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]  # a text we send: blank is none


class RepliesError(ValueError):
    """A reply vocabulary that cannot be used, with the file and the reason."""


class Keywords(Strict):
    """One intent's words and phrases, per locale."""

    en: list[Word]
    zh: list[Word]

    def phrases(self, locale: Locale | None = None) -> list[str]:
        """Normalised, of one locale or (None) of all."""
        words: list[str] = [*self.en, *self.zh] if locale is None else getattr(self, locale)
        return [normalise(word) for word in words]


class OptOutConfirmation(Strict):
    """The one text FCC 24-24 allows after an opt-out, per locale: short, no marketing."""

    en: Text
    zh: Text

    def in_locale(self, locale: Locale) -> str:
        text: str = getattr(self, locale)
        return text


class ReplyVocabulary(Strict):
    opt_out: Keywords
    twilio_opt_out: list[Word]
    opt_out_confirmation: OptOutConfirmation
    opt_in: Keywords
    help: Keywords
    says_paid: Keywords
    callback_requested: Keywords

    def phrases(self, intent: Intent) -> list[str]:
        keywords: Keywords = getattr(self, intent)
        return keywords.phrases()

    @model_validator(mode="after")
    def _one_meaning_per_phrase(self) -> ReplyVocabulary:
        meaning: dict[str, str] = {}
        for intent in (*WHOLE_MESSAGE, *LEADING_PHRASE):
            for phrase in self.phrases(intent):
                if not phrase:
                    raise ValueError(f"{intent} has a keyword that is only spaces or punctuation")
                if meaning.setdefault(phrase, intent) != intent:
                    raise ValueError(f"{phrase!r} is under both {meaning[phrase]} and {intent}")
        return self

    @model_validator(mode="after")
    def _twilio_acts_on_single_opt_out_words(self) -> ReplyVocabulary:
        # Twilio's words revoke for us too; one counted as Twilio's that Twilio does not act on (no keyword of Twilio's
        # has a space) would leave that opt-out unconfirmed.
        for word in self.twilio_opt_out:
            if normalise(word) not in self.phrases("opt_out"):
                raise ValueError(f"twilio_opt_out: {word!r} is not an opt_out word")
            if " " in normalise(word):
                raise ValueError(f"twilio_opt_out: {word!r} is not a single word, and Twilio acts on single words only")
        return self


def load_replies(path: Path = REPLIES_FILE) -> ReplyVocabulary:
    try:
        return ReplyVocabulary.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except OSError as err:
        raise RepliesError(f"{path}: cannot be read ({err.strerror})") from None
    except yaml.YAMLError as err:
        raise RepliesError(f"{path}: not valid YAML ({err})") from None
    except ValidationError as err:
        raise RepliesError(f"{path}: {problems(err)}") from None


def normalise(text: str) -> str:
    """Case, punctuation, symbols, full-width forms and extra spaces dropped: ' Stop! ' and 'ＳＴＯＰ' read 'stop'."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    spaced = "".join(" " if unicodedata.category(c)[0] in "PSZC" else c for c in folded)
    return " ".join(spaced.split())


def classify(body: str, vocabulary: ReplyVocabulary) -> Intent:
    text = normalise(body)
    for intent in WHOLE_MESSAGE:
        if text in vocabulary.phrases(intent):
            return intent
    for intent in LEADING_PHRASE:
        if any(_opens(text, phrase) for phrase in vocabulary.phrases(intent)):
            return intent
    return "other"


def opt_out_confirmation(body: str, vocabulary: ReplyVocabulary) -> str | None:
    """The text we answer an opt-out with, in the language of the word the debtor used; None when the reply is no
    opt-out, or Twilio confirms it itself. Twilio's words are matched as leniently as ours: when Twilio may have
    confirmed (" Stop. "), we send none, since the rule allows one confirmation, not two."""
    text = normalise(body)
    if text in [normalise(word) for word in vocabulary.twilio_opt_out]:
        return None
    for locale in LOCALES:
        if text in vocabulary.opt_out.phrases(locale):
            return vocabulary.opt_out_confirmation.in_locale(locale)
    return None


def _opens(text: str, phrase: str) -> bool:
    """`phrase` begins `text` as whole words: 'call' opens 'call me at 6' but not 'called you'. Chinese has no
    spaces between words, so a phrase ending in a Chinese character opens whatever follows it."""
    after = text[len(phrase) : len(phrase) + 1]
    return text.startswith(phrase) and not (after.isascii() and after.isalnum())


# "Re:", "Fwd:" and their Chinese forms, however many, before a reply's subject.
REPLY_PREFIXES = re.compile(r"^(\s*(re|aw|fw|fwd|回复|答复|转发)\s*[:：])+", re.IGNORECASE)


def classify_email(subject: str, text: str, vocabulary: ReplyVocabulary) -> Literal["opt_out", "other"]:
    """An e-mail to us is an opt-out when its subject (what our List-Unsubscribe mailto sets) or its first line of
    new text (what "reply UNSUBSCRIBE" asks for) is an opt-out word; anything else is for a collector to read."""
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    said = (normalise(REPLY_PREFIXES.sub("", subject)), normalise(first_line))
    return "opt_out" if any(words in vocabulary.phrases("opt_out") for words in said) else "other"
