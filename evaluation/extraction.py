"""Which displayed option did a model's free-text answer choose? A deterministic parser, precision first.

Pure: no Django. ``parse_choice`` reads one answer to one item; when it gives up ("unparseable") the runner
may ask an LLM extractor, whose short reply ``parse_extractor_reply`` reads. Positions are 0-based display
positions: ``labels[i]`` was shown with ``allocations[i]`` = (self, other).

An answer is read as *references*, each naming one display position, or none (unknown label, allocation of
no option, ordinal past the end):

- a label where it stands as one: after "option", in brackets ``(C)`` ``C)``, in emphasis ``**C**``, alone
  on a line, leading the answer (``C - it's fair``), after a decision phrase. The pronoun "I", the article
  "a" and payoff numbers are never labels elsewhere;
- an ordinal of the display position: "the third option", "the last one", "the middle option",
  "the second-to-last one";
- an allocation: "(85, 76)", "85/76", "85 for me and 76 for the other person", "I receive 85 and the other
  person receives 76", the echoed option line "C) You receive 85, the other person receives 76".

Precedence, the first rule that applies decides:

1. Empty text: "no option found".
2. Explicit decisions: a first-person or clause-initial decision verb ("I choose/pick/select/go with/opt for/
   will take X", "choosing X"), a decision noun ("my (final) answer/choice/decision is X", "answer: X",
   ``\\boxed{X}``) or "X is my choice", naming one option. If all decisions name the same option it is the
   answer, whatever else the reasoning mentions; different decisions are ambiguous, a decision naming no
   option is unparseable. Echoed option lines veto: one whose label and allocation disagree, or a single
   echoed line of another option, makes the answer ambiguous.
3. Otherwise every reference is a mention: exactly one option mentioned is the answer, several are ambiguous
   (references naming no option are then ignored). Some mentions are *uncertain*: they make others ambiguous
   but are never the answer themselves: the target of a negated, third-person or listed decision verb
   ("I would not choose A", "an individualist would pick A", "I choose A or C"), "option I would ..." (the
   label I, or "the option I would pick"), a word-like label not followed like one ("I choose A for ..."),
   and a capital letter label standing bare in a sentence ("C. E is also fine").
4. Nothing certain named: "refusal" when the text declines, else the reason of the first reference naming no
   option, else "no option found".

Reasoning inside ``<think>...</think>`` is skipped when an answer follows it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

Method = Literal["parser", "llm", "unparseable"]
_Mode = Literal["prefixed", "marked", "bare", "emphasis", "leading"]


@dataclass(frozen=True)
class Extraction:
    """The option an answer chose (0-based display position, None if not determined), how, and why."""

    position: int | None
    method: Method
    detail: str


@dataclass(frozen=True)
class _Ref:
    position: int | None  # None: the reference names no option
    what: str
    sure: bool = True  # False: may be a word rather than a label; it can block an answer, never be one


# Labels and ordinals.
_TOK = r"(?P<tok>[A-Za-z]|\d{1,2})(?!\w|'(?!s\b)\w|\.\d)"  # "C", "C's", not "I'd" nor "3.5"
_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth")
_ORD = rf"(?:(?:{'|'.join(_ORDINALS)}|[1-9](?:st|nd|rd|th))(?:[\s-]+to[\s-]+last)?|last|penultimate|middle)"
_NOUN = r"(?:one|option|choice|allocation|alternative)"
# Allocations (self, other).
_SELF = r"\b(?:i|you)(?:'d|'ll)?\s+(?:would\s+|will\s+)?(?:receive|get|keep|earn|take)s?\s+(\d{1,3})"
_POINTS = r"(?:\s+points)?"
_OTHER = (
    r"(?:the\s+other(?:\s+(?:person|participant|player))?|they|he|she)(?:'d|'ll)?\s+(?:would\s+|will\s+)?"
    r"(?:receive|get|earn)s?\s+(\d{1,3})"
)
_JOIN = r"\s*(?:[,;]\s*)?(?:(?:and|while|whereas|but)\s+)?"
_ME = r"(?:points?\s+)?(?:for|to)\s+(?:me|myself|you|yourself)"
_THEM = r"(?:points?\s+)?(?:for|to)\s+(?:the\s+other|them)"
_PAIRS: tuple[tuple[re.Pattern[str], bool], ...] = (  # (pattern, whether it states the other's payoff first)
    (re.compile(r"\(\s*(\d{1,3})\s*,\s*(\d{1,3})\s*\)"), False),
    (re.compile(r"(?<![\d/.])(\d{1,3})\s*/\s*(\d{1,3})(?![\d/]|\.\d)"), False),
    (re.compile(_SELF + _POINTS + _JOIN + _OTHER, re.I), False),
    (re.compile(r"\b" + _OTHER + _POINTS + _JOIN + _SELF, re.I), True),
    (re.compile(rf"(?<![\d.])(\d{{1,3}})\s*{_ME}{_JOIN}(\d{{1,3}})\s*{_THEM}", re.I), False),
)
_ECHO = re.compile(
    rf"(?<![\w']){_TOK}\s*[).:\]-]\s*(?i:you\s+receive\s+(?P<own>\d{{1,3}}),?\s*(?:and\s+)?"
    r"the\s+other\s+person\s+receives\s+(?P<other>\d{1,3}))"
)
# Decision phrases and what they point at.
_AUX = (
    r"would|will|shall|must|should|can|do|am|have|therefore|thus|then|hence|definitely|probably|ultimately|"
    r"now|also|still|rather|finally|going\s+to|gonna|"
    r"(?:want|have|need|prefer|decided?|choose|(?:would\s+|'d\s+)?like)\s+to"
)
_DECIDER = re.compile(  # what must precede a decision verb: a first-person subject, or the start of a clause
    rf"(?:(?:\b(?:i|we)(?:'d|'ll|'m|'ve)?|\blet(?:'s|\s+me|\s+us))(?:\s+(?:{_AUX}))*\s+"
    r"|(?:^|[.!?:;\n(]|\b(?:so|therefore|thus|hence|finally|ultimately))[\s,]*)$",
    re.I,
)
_VERB = re.compile(
    r"\b(?:choos(?:e|es|ing)|chose|chosen|pick(?:s|ed|ing)?|select(?:s|ed|ing)?|tak(?:e|es|ing)|took|"
    r"(?:go|goes|going|went|gone)\s+(?:with|for)|opt(?:s|ed|ing)?\s+for|(?:settl|decid)(?:e|ed|ing)\s+on)\b",
    re.I,
)
_DECISION_NOUN = re.compile(
    r"\bmy\s+(?:final\s+|ultimate\s+)?(?:answer|choice|decision|selection|pick|option|preference)\s*"
    r"(?:is|would\s+be|will\s+be|remains|[:=])|\b(?:final\s+)?(?:answer|choice|selection|decision|pick)\s*:|"
    r"\bthe\s+(?:final\s+)?answer\s+is\b",
    re.I,
)
_DECISION_AFTER = re.compile(
    rf"(?<![\w'])(?i:option\s+)?{_TOK}\s+(?i:is|would\s+be|will\s+be)\s+(?i:my\s+(?:final\s+)?"
    r"(?:choice|answer|pick|decision|selection))\b"
)
_MENTION_PHRASE = re.compile(
    r"\b(?:option|choice|answer|pick)\s+(?:is|would\s+be|will\s+be|(?:seems|appears)\s+to\s+be)\b|"
    r"\b(?:prefer|favou?r|recommend)(?:s|red|ed)?\b",
    re.I,
)
_LEAD = re.compile(  # between a decision phrase and its target
    r"""[\s:="'-]*(?i:(?:is|would\s+be|will\s+be)\b[\s:"'-]*)?"""
    r"(?i:(?:clearly|definitely|obviously|probably|simply|certainly)\s+)?"
)
_WHERE = re.compile(r"(?i:(?:the\s+)?(?:option|one|allocation)\s+(?:where|with|in\s+which)\s+)")
_ORDINAL_AT = re.compile(rf"(?i:(?:the\s+(?:very\s+)?(?={_ORD})|(?={_ORD}[\s-]+{_NOUN}))(?P<ord>{_ORD})\b)")
_ORDINAL_MENTION = re.compile(rf"(?i:\b(?P<ord>{_ORD})[\s-]+{_NOUN}\b)")
# Contexts where a letter or a number stands as a label.
_LABEL_AT = re.compile(
    r"(?i:(?:the\s+)?(?P<pre>(?:option|choice|alternative|number|label|letter)(?P<plural>s)?\b\s*#?\s*))?"
    rf"(?P<open>[(\[])?{_TOK}(?P<close>[)\]])?"
)
_ATTACHED = re.compile(r"[\s:,-]*")
_LIST_SEP = re.compile(r"\s*(?:,|/|&|-|(?i:or|and|vs\.?|versus|to|through)\b)\s*")
_PREFIX = re.compile(r"(?i:\b(?:options?|choices?|alternatives?)\b)")
_BRACKETED = re.compile(  # "(C)", or "C)" after a space
    rf"(?<![\w'])[(\[]{_TOK}[)\]]|(?<![^\s:\"]){_TOK.replace('tok', 'tok2')}\)"
)
_EMPHASIS = re.compile(rf"(\*\*?|__|`)[ \t]*(?P<pre>(?i:option)[ \t]+)?{_TOK}[ \t]*(?:[.):][ \t]*)?\1")
_ALONE = re.compile(  # a line that is only a label
    r"^[ \t>•-]*(?:(?i:option|answer|choice)[ \t]*(?::[ \t]*)?)?"
    r"[(\[]?(?P<tok>[A-Za-z]|\d{1,2})[)\]]?[ \t.!:)]*$",
    re.M,
)
_CAPITAL = re.compile(r"(?<![\w'./-])(?P<tok>[A-Z])(?![\w/-]|'(?!s\b)\w|\.\w)")
_LEADING = re.compile(rf"\s*{_TOK}")
_LIST_LINE = re.compile(r"^[ \t]*[(\[]?(?:[A-Za-z]|\d{1,2})[.)\]]\s", re.M)
# What may follow a label that could also be a word ("I", "A") or a number.
_NARROW = re.compile(
    r"""\s*(?:$|[\n.,;:!?)\]"'(-])|"""
    r"\s+(?i:because|since|as|which|so|given|due|here|this|or|vs|versus|over|than|instead)\b"
)
_WIDE = re.compile(rf"{_NARROW.pattern}|\s+(?i:is|gives|offers|provides|has|maximi[sz]es|seems|yields)\b")
_STRICT = re.compile(r"\s*(?:$|[.:)\]]|-\s)")
_MODAL = re.compile(r"\s+(?i:would|will|could|should|might|can|may|must)\b")
# Refusals and the extractor's replies.
_REFUSAL = re.compile(
    r"\b(?:cannot|can't|can\s+not|won't|will\s+not|unable\s+to|refuse\s+to|decline\s+to|not\s+able\s+to)\b"
    r"[^.\n]{0,40}\b(?:choose|choice|make|decide|answer|select|pick|participate|comply|help|provide)|"
    r"\bas\s+an\s+ai\b|\bi\s+(?:do\s+not|don't)\s+have\s+(?:personal\s+)?(?:preferences|opinions)|"
    r"\bi'm\s+sorry\b|\bi\s+apologi[sz]e\b",
    re.I,
)
_NONE_REPLY = re.compile(r"(?i:\s*(?:none|n/?a|no\s+(?:option|choice|answer)|null|unclear|unknown)\b)")
_REPLY_LEAD = re.compile(r"(?i:(?:the\s+)?(?:final\s+)?(?:answer|option|label|choice)\b(?:\s+is\b)?[\s:-]*)")


class _Options:
    """The displayed options of one item, and how references resolve against them."""

    def __init__(self, labels: Sequence[str], allocations: Sequence[tuple[int, int]] | None) -> None:
        self.labels = list(labels)
        self.index = {label.upper(): i for i, label in enumerate(labels)}
        self.allocations = None if allocations is None else [(int(a), int(b)) for a, b in allocations]
        self.words = {"A", "I"} & set(self.index)  # labels that are also English words
        self.wordlike = self.words | {label for label in self.index if label.isdigit()}

    def label(self, tok: str, mode: _Mode, text: str = "", end: int = 0, listed: bool = False) -> _Ref | None:
        """``tok`` as a label in this context (mode), or None when it is rather a word or a number."""
        if tok.islower() and (mode != "prefixed" or tok in ("a", "i")):
            return None
        sure = True
        if mode == "prefixed" and tok == "I" and not _WIDE.match(text, end):
            if not (listed or _MODAL.match(text, end)):
                return None  # "the option I like": the pronoun
            sure = False  # "option I would ...", "options A-I are": the label, or "the option I would pick"
        elif mode == "leading" and not (_STRICT if tok in self.words else _NARROW).match(text, end):
            return None
        elif mode in ("bare", "emphasis") and tok.upper() in self.wordlike:
            if listed and not _NARROW.match(text, end):
                return None  # "I choose C and I think ...": the list ends
            sure = bool((_NARROW if mode == "bare" else _WIDE).match(text, end))  # "I choose A for ..."
        position = self.index.get(tok.upper())
        if position is None:
            return _Ref(None, f"unknown label '{tok}'") if mode == "prefixed" else None
        return _Ref(position, f"label '{self.labels[position]}'", sure)

    def pair(self, match: re.Match[str], swapped: bool) -> _Ref:
        first, second = int(match[1]), int(match[2])
        return self.allocation(second, first) if swapped else self.allocation(first, second)

    def allocation(self, own: int, other: int) -> _Ref:
        found = [i for i, a in enumerate(self.allocations or ()) if a == (own, other)]
        what = f"allocation ({own}, {other})"
        if len(found) == 1:
            return _Ref(found[0], what)
        return _Ref(None, f"{what} matches {len(found) or 'no'} options")

    def ordinal(self, phrase: str) -> _Ref:
        words, n = phrase.lower().replace("-", " ").split(), len(self.labels)
        first = words[0]
        if first in ("last", "penultimate", "middle"):
            index = {"last": n - 1, "penultimate": n - 2, "middle": n // 2 if n % 2 else n}[first]  # n: none
        else:
            k = int(first[:-2]) if first[0].isdigit() else _ORDINALS.index(first) + 1
            index = n - k if words[-1] == "last" else k - 1
        return _Ref(index if 0 <= index < n else None, f"ordinal '{' '.join(words)}'")

    def target(self, text: str, start: int) -> list[_Ref]:
        """The references right after a decision phrase: one, a list ("A or C"), or none."""
        i = lead.end() if (lead := _LEAD.match(text, start)) else start
        if self.allocations is not None:
            where = _WHERE.match(text, i)
            for pattern, swapped in _PAIRS:
                if found := pattern.match(text, where.end() if where else i):
                    return [self.pair(found, swapped)]
        if found := _ORDINAL_AT.match(text, i):
            refs, end = [self.ordinal(found["ord"])], found.end()
        else:
            refs, end = self.label_list(text, i)
        attached = _ATTACHED.match(text, end)
        if len(refs) == 1 and attached and self.allocations is not None:
            for pattern, swapped in _PAIRS:  # "C (85, 76)": the allocation must be C's
                if pair := pattern.match(text, attached.end()):
                    refs += [ref] if (ref := self.pair(pair, swapped)).position != refs[0].position else []
                    break
        return refs

    def label_list(self, text: str, i: int, first: _Mode = "bare") -> tuple[list[_Ref], int]:
        """Labels from ``i`` on, one or a list ("A, B or C"), and where the last one ended."""
        refs: list[_Ref] = []
        end, plural = i, False  # "options A, C and I": the plural prefixes every label of the list
        while found := _LABEL_AT.match(text, i):
            plural = plural or bool(found["plural"])
            mode: _Mode = "marked" if found["close"] else "bare" if refs else first
            if plural or found["pre"] is not None:
                mode = "prefixed"
            if (ref := self.label(found["tok"], mode, text, found.end(), plural or bool(refs))) is None:
                break
            refs.append(ref)
            end = found.end()
            if (sep := _LIST_SEP.match(text, end)) is None:
                break
            i = sep.end()
        return refs, end


def _normalise(text: str) -> tuple[str, str]:
    """(text with markdown emphasis, plain text): quotes and dashes unified, the answer after reasoning."""
    if "</think>" in text and text.rsplit("</think>", 1)[1].strip():
        text = text.rsplit("</think>", 1)[1]
    marked = text.translate({0x2019: "'", 0x2018: "'", 0x201C: '"', 0x201D: '"', 0x2014: "-", 0x2013: "-"})
    plain = re.sub(r"\\boxed\{\s*(?:\\text\{)?\s*([^{}]*?)\s*\}?\s*\}", r"Answer: \1", marked)
    plain = re.sub(r"\*+|`+|_{2,}", "", plain.replace("\xa0", " "))
    plain = re.sub(r"^[ \t]*#+[ \t]*", "", plain, flags=re.M)
    return marked, plain


def _scan(plain: str, marked: str, opts: _Options) -> tuple[list[_Ref], list[_Ref], list[tuple[_Ref, _Ref]]]:
    """All references of an answer: explicit decisions, mentions, echoed option lines (label, allocation)."""
    decisions: list[_Ref] = []
    mentions: list[_Ref] = []
    pairs: list[_Ref] = []
    masked = plain  # allocations blanked out, so that their numbers are never read as labels
    for pattern, swapped in _PAIRS if opts.allocations is not None else ():
        for found in pattern.finditer(plain):
            pairs.append(opts.pair(found, swapped))
            masked = masked[: found.start()] + " " * (found.end() - found.start()) + masked[found.end() :]
    for found in _VERB.finditer(plain):
        refs = opts.target(plain, found.end())
        decider = _DECIDER.search(plain, max(0, found.start() - 120), found.start())
        if len(refs) == 1 and refs[0].sure and decider:
            decisions += refs
        else:  # "I would not choose A", "an individualist would pick A", "I choose C or D": never the answer
            mentions += [replace(ref, sure=False) for ref in refs]
    for found in _DECISION_NOUN.finditer(plain):
        refs = opts.target(plain, found.end())
        (decisions if len(refs) == 1 and refs[0].sure else mentions).extend(refs)
    for found in _DECISION_AFTER.finditer(masked):
        decisions += [ref] if (ref := opts.label(found["tok"], "marked")) else []
    for found in _MENTION_PHRASE.finditer(plain):
        mentions += opts.target(plain, found.end())
    listed = 0  # where the last list of labels ended: "option A, option B, ..." is read once
    for found in _PREFIX.finditer(masked):
        if found.start() >= listed:
            refs, listed = opts.label_list(masked, found.start())
            mentions += refs
    labels: list[_Ref | None] = []
    for found in _BRACKETED.finditer(masked):
        before = masked[max(0, found.start() - 40) : found.start()].rstrip(" \t") if found["tok2"] else ""
        if not (found["tok2"] in opts.words and before and before[-1] not in "\n:"):  # not "(so do I)"
            labels.append(opts.label(found["tok"] or found["tok2"], "marked"))
    for found in _EMPHASIS.finditer(marked):
        labels.append(
            opts.label(found["tok"], "prefixed" if found["pre"] else "emphasis", marked, found.end())
        )
    labels += [opts.label(found["tok"].upper(), "marked") for found in _ALONE.finditer(plain)]
    if (leading := _LEADING.match(masked)) and len(_LIST_LINE.findall(plain)) < 2:
        mentions += opts.label_list(masked, leading.start("tok"), "leading")[0]
    echoes: list[tuple[_Ref, _Ref]] = []
    for found in _ECHO.finditer(plain) if opts.allocations is not None else ():
        if label := opts.label(found["tok"], "marked"):
            echoes.append((label, opts.allocation(int(found["own"]), int(found["other"]))))
    for found in _CAPITAL.finditer(masked):  # "C. E is also fine": any bare capital may name an option
        if found["tok"] in opts.index and found["tok"] not in opts.words:
            labels.append(_Ref(opts.index[found["tok"]], f"label '{found['tok']}'", sure=False))
    mentions += [ref for ref in labels if ref is not None] + [label for label, _ in echoes]
    mentions += [opts.ordinal(found["ord"]) for found in _ORDINAL_MENTION.finditer(masked)]
    return decisions, mentions + pairs, echoes


def _unparseable(detail: str) -> Extraction:
    return Extraction(None, "unparseable", detail)


def _ambiguous(refs: Sequence[_Ref], opts: _Options, kind: str = "") -> Extraction:
    named = [opts.labels[p] for p in sorted({r.position for r in refs if r.position is not None})]
    unnamed = sorted({r.what for r in refs if r.position is None})
    return _unparseable(f"ambiguous: {kind}{', '.join(named + unnamed)}")


def _decide(text: str, opts: _Options) -> Extraction:
    marked, plain = _normalise(text)
    if not plain.strip():
        return _unparseable("no option found")
    decisions, mentions, echoes = _scan(plain, marked, opts)
    if any(label.position != pair.position for label, pair in echoes):
        return _ambiguous([ref for echo in echoes for ref in echo], opts, "echoed option line disagrees: ")
    if decisions:
        first = decisions[0]
        if len({(r.position, r.what if r.position is None else "") for r in decisions}) > 1:
            return _ambiguous(decisions, opts, "conflicting decisions ")
        if first.position is None:
            return _unparseable(first.what)
        if len(echoes) == 1 and echoes[0][0].position != first.position:
            return _ambiguous([first, echoes[0][0]], opts, "decision and echoed option line differ: ")
        return Extraction(first.position, "parser", f"explicit {first.what}")
    named = [r for r in mentions if r.position is not None]
    if len({r.position for r in named}) > 1:
        return _ambiguous(named, opts)
    if sure := [r for r in named if r.sure]:
        return Extraction(sure[0].position, "parser", sure[0].what)
    if _REFUSAL.search(plain):
        return _unparseable("refusal")
    if named:
        return _unparseable(f"uncertain {named[0].what}")
    return _unparseable(mentions[0].what if mentions else "no option found")


def parse_choice(text: str, *, labels: Sequence[str], allocations: Sequence[tuple[int, int]]) -> Extraction:
    """The option an answer chose, by the precedence rules of the module docstring; never a guess."""
    if len(labels) != len(allocations):
        raise ValueError(f"{len(labels)} labels but {len(allocations)} allocations; they must pair up")
    return _decide(text, _Options(labels, allocations))


def parse_extractor_reply(text: str, *, labels: Sequence[str]) -> int | None:
    """The position the LLM extractor's short reply names ('C', 'Option C', '3'); None for 'NONE', several."""
    plain, opts = _normalise(text)[1].strip(), _Options(labels, None)
    if _NONE_REPLY.match(plain):
        return None
    refs, _ = opts.label_list(plain, lead.end() if (lead := _REPLY_LEAD.match(plain)) else 0)
    if refs:  # the reply starts with its label(s): "C", "Option C", "Answer: C) You receive ..."
        return refs[0].position if len(refs) == 1 and refs[0].sure else None
    return _decide(plain, opts).position
