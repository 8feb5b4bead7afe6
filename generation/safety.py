"""Prompt-injection defences around the model.

Before the model: instruction-like sentences inside passages ("ignore previous instructions",
"reveal the system prompt", "say PWNED", markdown images) and links are replaced by a
placeholder, so a document cannot steer the answer (:func:`neutralize_source`).

After the model: the final answer text never carries a link or an image to anywhere
(:func:`sanitize_answer` removes markdown images and links, raw URLs, loopback/IP URLs), and a
sentence that repeats the system prompt or echoes text that only an instruction inside a
passage contained is removed (:func:`reveals_prompt`, :func:`injected_terms`).

The ask page renders text only (never HTML) and the server never fetches what an answer names,
so these are defence in depth: the answer *text* stays clean for every consumer of the API.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from generation.sentences import sentence_spans

# -- links and images ---------------------------------------------------------------------
_MD_IMAGE = re.compile(r"!\[[^\]\n]*\]\s*(?:\([^)\n]*\)|\[[^\]\n]*\])")
_MD_LINK = re.compile(r"\[([^\]\n]*)\]\(([^)\n]*)\)")
_MD_REF_DEF = re.compile(r"(?m)^[ \t]*\[[^\]\n]+\]:[ \t]*\S+.*$")
_URL = re.compile(
    r"(?i)(?:\b[a-z][a-z0-9+.\-]{1,15}:(?://|\\\\)|\bwww\.|(?<![\w:/])//(?=[a-z0-9\[]))"
    r"[^\s<>\"'`]*"
)
_IP_URL = re.compile(r"(?i)(?<![\w.])(?:\[[0-9a-f:]+\]|\d{1,3}(?:\.\d{1,3}){3})(?::\d{1,5}|/)\S*")
_HOST_URL = re.compile(
    r"(?i)(?<![\w@.\-])(?:localhost|(?:[a-z0-9\-]+\.)+[a-z]{2,})(?::\d{1,5})?/[^\s<>\"'`]*"
)
_HOST_PORT = re.compile(r"(?i)(?<![\w@.\-])(?:localhost|(?:[a-z0-9\-]+\.)+[a-z]{2,}):\d{1,5}\b")
_DATA_URI = re.compile(r"(?i)\b(?:data:[a-z]+/[a-z0-9.+\-]+[;,]|javascript:|vbscript:|file:)\S*")
_MARKER_ONLY = re.compile(r"^\d{1,2}$")


def _drop(kind: str, removed: list[str]) -> str:
    removed.append(kind)
    return ""


def sanitize_answer(text: str) -> tuple[str, list[str]]:
    """``text`` without links or images; also returns what kinds were removed.

    Markdown images (inline and reference) go entirely, markdown links keep their text (a
    ``[1](...)`` link keeps its citation marker), reference definitions go, and so do raw
    URLs of any scheme, ``www.`` hosts, protocol-relative
    ``//host`` URLs, ``host/path``, ``host:port`` and IP-address URLs (loopback included:
    an answer has no reason to name a URL, and a rendered one could reach a local service).
    E-mail addresses stay.
    """
    removed: list[str] = []
    out = _MD_IMAGE.sub(lambda _m: _drop("markdown-image", removed), text)

    def link(m: re.Match[str]) -> str:
        removed.append("markdown-link")
        label = m.group(1).strip()
        return f"[{label}]" if _MARKER_ONLY.match(label) else label

    out = _MD_LINK.sub(link, out)
    out = _MD_REF_DEF.sub(lambda _m: _drop("link-definition", removed), out)
    for kind, pattern in (("url", _URL), ("script-or-data-uri", _DATA_URI), ("ip-url", _IP_URL),
                          ("host-url", _HOST_URL), ("host-port", _HOST_PORT)):
        out = pattern.sub(lambda _m, k=kind: _drop(k, removed), out)  # type: ignore[misc]
    if removed:
        out = re.sub(r"<\s*>|\(\s*\)|\[\s*\](?!\()", "", out)
        out = re.sub(r"[ \t]{2,}", " ", out)
        out = re.sub(r" +([.,;:!?])", r"\1", out)
        out = "\n".join(line.rstrip() for line in out.split("\n")).strip()
    return out, removed


def has_link(text: str) -> bool:
    """True when ``text`` still contains something :func:`sanitize_answer` would remove."""
    return bool(sanitize_answer(text)[1])


# -- instructions inside passages ----------------------------------------------------------
_INSTRUCTION_PATTERNS = [
    r"\b(?:ignore|disregard|forget|override|bypass)\b[^.!?\n]{0,60}"
    r"\b(?:instructions?|rules|prompts?|directions|guidelines|context|above|previous|prior|"
    r"earlier|everything|the rest)\b",
    # addressing whoever writes the answer
    r"\b(?:reply|respond)(?:\s+only)?\s+with\b",
    r"\byou (?:were|have been|are being) (?:told|given|instructed|asked)\b",
    r"\b(?:start|begin|end|finish|sign off) (?:the|your) (?:reply|answer|response)\b",
    r"\bsign off with\b|\bthis (?:chat|conversation)\b|\b(?:should|must|shall) be told\b",
    r"\bthe (?:correct|right|real|only|true) answer\b[^.!?\n]{0,50}\bis\b|"
    r"\banswer to (?:any|every|all|each) questions?\b",
    r"\b(?:names|titles|list) of (?:all|every) (?:the )?other (?:files?|documents?)\b|"
    r"\b(?:every|all) other (?:files?|documents?) in\b",
    r"\bsystem[ \t-]+prompt|\b(?:hidden|initial|original|developer|secret)[ \t-]+"
    r"(?:prompt|instructions)",
    r"\bprompt injection\b",
    r"\b(?:you are now|from now on,? you|new instructions?:|pretend (?:to be|you are)|"
    r"roleplay as|jailbreak|act as (?:an? |the )?(?:ai|assistant|chatbot|unrestricted|"
    r"jailbroken)\b)",
    r"\b(?:note|message|instructions?) (?:to|for) (?:the |any |all )?(?:ai|assistant|model|llm|"
    r"chatbot|language model|bot)s?\b",
    r"\b(?:ai|assistants?|chatbots?|llms?|language models?)\b[^.!?\n]{0,30}"
    r"\b(?:must|should|shall|are required to|are to|will now|need to)\b",
    r"\bif you are an? (?:ai|assistant|model|llm|language model|chatbot|bot)\b",
    r"\b(?:reveal|repeat|print|output|show|display|leak|disclose|recite|dump)\b[^.!?\n]{0,40}"
    r"\b(?:your (?:prompt|instructions|rules)|the prompt|secret|api key|credentials)\b",
    r"\b(?:list|enumerate|name|print|output|reveal|show)\s+(?:all|every|each|the titles of all|"
    r"the names of all)\s+(?:of\s+)?(?:the\s+)?(?:other\s+)?(?:documents|sources|passages)\b",
    r"\b(?:say|write|reply|respond|answer|output|print|append|end|start|begin|finish|emit)\b"
    r"[^.!?\n]{0,40}\b(?:the (?:word|phrase|code ?word|token|image|markdown)|exactly|"
    r"verbatim|only with|with the word)\b",
    r"!\[[^\]\n]*\]\s*\(",
]
_INSTRUCTION_RE = re.compile("|".join(f"(?:{p})" for p in _INSTRUCTION_PATTERNS), re.I)
INSTRUCTION_PLACEHOLDER = "(instruction-like text removed)"
LINK_PLACEHOLDER = "(link)"


def is_instruction(sentence: str) -> bool:
    """Heuristic: true when a passage sentence addresses the model instead of the reader."""
    return bool(_INSTRUCTION_RE.search(sentence))


def neutralize_source(text: str) -> str:
    """Passage text for the prompt: instruction-like sentences and links replaced."""
    pieces, last = [], 0
    for start, end in sentence_spans(text):
        sentence = text[start:end]
        if is_instruction(sentence):
            pieces += [text[last:start], INSTRUCTION_PLACEHOLDER]
            last = end
    pieces.append(text[last:])
    out = "".join(pieces)
    out, _ = sanitize_answer(out) if has_link(out) else (out, [])
    return out


# -- echoes of the system prompt or of injected instructions -------------------------------
_WORD = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*")


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def reveals_prompt(sentence: str, prompt: str, n: int = 5) -> bool:
    """True when ``sentence`` repeats ``n`` consecutive words of ``prompt``."""
    pw = _words(prompt)
    grams = {tuple(pw[i:i + n]) for i in range(len(pw) - n + 1)}
    sw = _words(sentence)
    return any(tuple(sw[i:i + n]) in grams for i in range(len(sw) - n + 1))


def _distinctive(word: str) -> bool:
    """A token that looks like a code word, name or number rather than common vocabulary."""
    return (
        any(ch.isdigit() for ch in word) or "-" in word or word.isupper() and len(word) > 1
        or (word[:1].isupper() and len(word) > 2)
    )


def injected_terms(passages: Iterable[str], question: str = "") -> set[str]:
    """Distinctive words found only in instruction-like sentences of ``passages``.

    An answer sentence containing one repeats what a hidden instruction told the model to say
    (a canary like ``PWNED-7``); such a sentence is removed whatever ``unsupported`` says.
    """
    inside: set[str] = set()
    outside: set[str] = set(w.lower() for w in _WORD.findall(question))
    for text in passages:
        for start, end in sentence_spans(text):
            sentence = text[start:end]
            words = _WORD.findall(sentence)
            if is_instruction(sentence):
                inside.update(w for w in words if _distinctive(w))
            else:
                outside.update(w.lower() for w in words)
    return {w.lower() for w in inside if w.lower() not in outside}


def contains_terms(sentence: str, terms: set[str]) -> bool:
    """True when ``sentence`` contains one of ``terms`` (lower-cased words)."""
    return bool(terms) and any(w in terms for w in _words(sentence))
