"""Text a reader cannot see in an HTML page, removed before unstructured reads the page.

The page is parsed with lxml and its styles are resolved the way a browser would for the
properties that can hide text: inline ``style`` attributes, ``<style>`` rules (simple
selectors: tag, ``.class``, ``#id``, ``[attr]``, ``[attr=value]``, descendant and child
combinators; ``@media`` blocks other than ``print`` included; specificity, order and
``!important`` respected) and the legacy ``<font color>`` / ``bgcolor`` attributes.

Removed with their whole subtree (the text after the element stays):

- ``<template>`` and ``<noscript>`` (a browser with scripts on, which is every reader's,
  never shows it), the ``hidden`` attribute, ``display:none``;
- ``opacity`` of 0.05 or less, ``transform: scale(0)``;
- positions off the page: ``left``/``top``/``margin-left``/``margin-top``/``translate`` at or
  below -500 px, ``text-indent`` at or below -500 px or at 100 % and more;
- clipped away: ``clip: rect()`` with no area, ``clip-path: inset(50%)`` or ``circle(0)``,
  a width or height of 1 px or less with ``overflow: hidden``.

Cleared where the element's own text is concerned (inherited, so a descendant that sets a
visible value again keeps its text): ``visibility: hidden``, a font under ``MIN_FONT_PX``
(``font-size: 0``, ``font: 0/0 a``), a transparent colour, and a colour within ``NEAR`` of
every channel of the background (the nearest ancestor's opaque background, white by default;
unknown over a background image, then nothing is judged).

``aria-hidden`` is kept: it hides content from screen readers, not from the eye (icons,
decorative duplicates), so dropping it would lose visible text. HTML comments and ``alt``
text never reach the index anyway (unstructured does not read them).
"""

from __future__ import annotations

import collections
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lxml import etree
from lxml import html as lxml_html

log = logging.getLogger(__name__)

MIN_FONT_PX = 2.0  # 1.5 pt, the PDF threshold (ingest.parsers.pdf_hidden.MIN_FONT_PT)
NEAR = 10  # colour channels within this of the background: white on white (PDF: >= 245)
OFF_PAGE_PX = -500.0
MAX_OPACITY = 0.05
DEFAULT_FONT_PX = 16.0
WHITE = (255, 255, 255)
_REMOVED_TAGS = {"template": "template", "noscript": "noscript"}
_PROPERTIES = {
    "display", "visibility", "color", "background", "background-color", "font-size", "font",
    "opacity", "position", "left", "top", "margin-left", "margin-top", "text-indent", "clip",
    "clip-path", "width", "height", "overflow", "overflow-x", "overflow-y", "transform",
}


@dataclass(slots=True)
class _Context:
    """What an element passes on to its content (the inherited part of its style)."""

    color: tuple[int, int, int, float] | None  # None: unknown
    background: tuple[int, int, int] | None  # None: unknown (an image)
    font_px: float
    visible: bool  # visibility


# -- CSS values ---------------------------------------------------------------------------

_HEX = re.compile(r"#([0-9a-f]{3,8})$")
_FUNC = re.compile(r"(rgba?|hsla?)\(([^)]*)\)$")
_LENGTH = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(px|pt|pc|em|rem|ex|ch|%|in|cm|mm|q|vw|vh)?$")
_UNIT_PX = {"px": 1.0, "pt": 4 / 3, "pc": 16.0, "in": 96.0, "cm": 96 / 2.54, "mm": 9.6 / 2.54,
            "q": 2.4 / 2.54}
_NAMED: dict[str, str] = {}


def _named(name: str) -> str | None:
    if not _NAMED:
        try:
            from PIL import ImageColor

            _NAMED.update(ImageColor.colormap)  # the CSS colour keywords
        except ImportError:  # pragma: no cover - pillow comes with unstructured
            _NAMED.update({"white": "#ffffff", "black": "#000000", "snow": "#fffafa",
                           "ivory": "#fffff0", "whitesmoke": "#f5f5f5"})
    value = _NAMED.get(name)
    return value if isinstance(value, str) else None


def parse_color(value: str) -> tuple[int, int, int, float] | None:
    """``(r, g, b, alpha)`` of a CSS colour, or None if it is not one this module knows."""
    value = value.strip().lower()
    if value == "transparent":
        return (0, 0, 0, 0.0)
    if (named := _named(value)) is not None:
        value = named
    if m := _HEX.match(value):
        digits = m.group(1)
        if len(digits) in (3, 4):
            digits = "".join(c * 2 for c in digits)
        if len(digits) not in (6, 8):
            return None
        alpha = int(digits[6:8], 16) / 255 if len(digits) == 8 else 1.0
        return (int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16), alpha)
    if m := _FUNC.match(value):
        parts = [p for p in re.split(r"[\s,/]+", m.group(2).strip()) if p]
        if len(parts) < 3:
            return None
        try:
            alpha = 1.0
            if len(parts) > 3:
                alpha = (float(parts[3][:-1]) / 100 if parts[3].endswith("%")
                         else float(parts[3]))
            if m.group(1).startswith("hsl"):
                from colorsys import hls_to_rgb

                hue = float(parts[0].removesuffix("deg")) / 360
                sat, light = (float(p.rstrip("%")) / 100 for p in parts[1:3])
                r, g, b = hls_to_rgb(hue % 1.0, light, sat)
                return (round(r * 255), round(g * 255), round(b * 255), alpha)
            rgb = [round(float(p[:-1]) * 2.55) if p.endswith("%") else round(float(p))
                   for p in parts[:3]]
        except ValueError:
            return None
        r, g, b = (min(255, max(0, c)) for c in rgb)
        return (r, g, b, alpha)
    return None


def _length(value: str, font_px: float, percent_of: float | None = None) -> float | None:
    """A CSS length in px (``em`` relative to ``font_px``), or None if unknown."""
    m = _LENGTH.match(value.strip().lower())
    if not m:
        return None
    number, unit = float(m.group(1)), m.group(2)
    if unit is None:
        return number if number == 0 else None
    if unit in _UNIT_PX:
        return number * _UNIT_PX[unit]
    if unit in ("em", "ch"):
        return number * font_px
    if unit == "ex":
        return number * font_px / 2
    if unit == "rem":
        return number * DEFAULT_FONT_PX
    if unit == "%":
        return None if percent_of is None else number * percent_of / 100
    return None  # vw/vh: depends on the window


def _font_shorthand_size(value: str, font_px: float) -> float | None:
    """The size in a ``font`` shorthand (``bold 12px/1.4 serif``, ``0/0 a``), or None."""
    for token in value.split():
        size = token.split("/", 1)[0]
        if size == "0" or (_LENGTH.match(size.lower()) and not size.replace(".", "").isdigit()):
            px = _length(size, font_px, font_px)
            if px is not None:
                return px
    return None


def _background(value: str) -> tuple[int, int, int] | None | bool:
    """A background's colour; None if it paints an image; False if it sets no colour."""
    low = value.lower()
    if "url(" in low or "gradient(" in low:
        return None
    for token in re.findall(r"#[0-9a-f]+|(?:rgba?|hsla?)\([^)]*\)|[a-z]+", low):
        color = parse_color(token)
        if color is not None:
            if color[3] < 0.5:
                return False  # mostly transparent: the ancestor's background shows
            return color[:3]
    return False


# -- style sheets -------------------------------------------------------------------------

_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_COMPOUND = re.compile(
    r"(?P<tag>\*|[a-zA-Z][\w-]*)?(?P<rest>(?:[#.][\w-]+|\[[^\]]*\])*)$")
_PART = re.compile(r"([#.])([\w-]+)|\[\s*([\w-]+)\s*(?:([~|^$*]?=)\s*(\"[^\"]*\"|'[^']*'|[^\]\s]*)\s*)?\]")


def _declarations(text: str) -> dict[str, tuple[str, bool]]:
    """``{property: (value, important)}`` of a declaration block, for the properties we use."""
    found: dict[str, tuple[str, bool]] = {}
    for item in text.split(";"):
        name, sep, value = item.partition(":")
        name = name.strip().lower()
        if not sep or name not in _PROPERTIES:
            continue
        value = value.strip()
        important = bool(re.search(r"!\s*important\s*$", value, re.I))
        if important:
            value = re.sub(r"!\s*important\s*$", "", value, flags=re.I).strip()
        if not important and found.get(name, ("", False))[1]:
            continue
        found[name] = (value, important)
    return found


def _rules(css: str) -> list[tuple[str, str]]:
    """``(selector list, declarations)`` of a style sheet, ``@media`` blocks (not print) opened."""
    css = _COMMENT.sub(" ", css)
    rules: list[tuple[str, str]] = []
    i, n = 0, len(css)
    while i < n:
        brace = css.find("{", i)
        if brace < 0:
            break
        prelude = css[i:brace].strip()
        if ";" in prelude and prelude.lstrip().startswith("@"):  # @import ...; @charset ...;
            prelude = prelude.rsplit(";", 1)[1].strip()
        depth, j = 1, brace + 1
        while j < n and depth:
            if css[j] == "{":
                depth += 1
            elif css[j] == "}":
                depth -= 1
            j += 1
        body = css[brace + 1:j - 1]
        if prelude.startswith("@"):
            media = prelude.lower()
            if media.startswith(("@media", "@supports", "@layer")) and "print" not in media:
                rules.extend(_rules(body))
        else:
            rules.append((prelude, body))
        i = j
    return rules


@dataclass(frozen=True, slots=True)
class _Compound:
    """One compound selector: ``tag#id.class[attr=value]``."""

    tag: str | None
    ids: tuple[str, ...]
    classes: tuple[str, ...]
    attrs: tuple[tuple[str, str | None], ...]

    def matches(self, el: Any) -> bool:
        if self.tag is not None and el.tag != self.tag:
            return False
        if any(el.get("id") != i for i in self.ids):
            return False
        if self.classes:
            own = set((el.get("class") or "").split())
            if not own.issuperset(self.classes):
                return False
        return all(el.get(name) is not None if value is None else el.get(name) == value
                   for name, value in self.attrs)


# A selector, right to left: the subject's compound, then (combinator, compound) pairs.
Selector = tuple[_Compound, tuple[tuple[str, _Compound], ...]]


def _compile(selector: str) -> tuple[Selector, tuple[int, int, int]] | None:
    """A simple CSS selector and its specificity; None if it uses what is not supported."""
    steps: list[_Compound] = []
    combinators: list[str] = []
    spec = [0, 0, 0]
    pending = " "
    for token in re.split(r"\s*(>)\s*|\s+", selector.strip()):
        if not token:
            continue
        if token == ">":
            if not steps or pending == ">":
                return None
            pending = ">"
            continue
        m = _COMPOUND.match(token)
        if not m or not (m.group("tag") or m.group("rest")):
            return None
        tag = (m.group("tag") or "*").lower()
        ids, classes, attrs = [], [], []
        for part in _PART.finditer(m.group("rest")):
            if part.group(1) == "#":
                ids.append(part.group(2))
            elif part.group(1) == ".":
                classes.append(part.group(2))
            elif part.group(4) in (None, "="):
                raw = part.group(5)
                attrs.append((part.group(3).lower(),
                              None if raw is None else raw.strip(chr(34) + chr(39))))
            else:
                return None
        spec[0] += len(ids)
        spec[1] += len(classes) + len(attrs)
        spec[2] += tag != "*"
        if steps:
            combinators.append(pending)
        steps.append(_Compound(None if tag == "*" else tag, tuple(ids), tuple(classes),
                               tuple(attrs)))
        pending = " "
    if not steps or pending == ">":
        return None
    steps.reverse()
    combinators.reverse()
    return (steps[0], tuple(zip(combinators, steps[1:], strict=True))), (spec[0], spec[1], spec[2])


def _matches_context(el: Any, rest: tuple[tuple[str, _Compound], ...]) -> bool:
    """Whether ``el``'s ancestors satisfy the rest of a selector (right to left)."""
    if not rest:
        return True
    (combinator, compound), tail = rest[0], rest[1:]
    parent = el.getparent()
    if combinator == ">":
        return parent is not None and compound.matches(parent) and _matches_context(parent, tail)
    while parent is not None:  # the nearest match only: no backtracking (bounded cost)
        if compound.matches(parent):
            return _matches_context(parent, tail)
        parent = parent.getparent()
    return False


class _Index:
    """The page's elements by id, class and tag: a rule looks only at its candidates."""

    def __init__(self, root: Any) -> None:
        self.all: list[Any] = []
        self.by_id: dict[str, list[Any]] = collections.defaultdict(list)
        self.by_class: dict[str, list[Any]] = collections.defaultdict(list)
        self.by_tag: dict[str, list[Any]] = collections.defaultdict(list)
        for el in root.iter():
            if not isinstance(el.tag, str):
                continue
            self.all.append(el)
            self.by_tag[el.tag].append(el)
            if (ident := el.get("id")) is not None:
                self.by_id[ident].append(el)
            for name in set((el.get("class") or "").split()):
                self.by_class[name].append(el)

    def _lookup(self, compound: _Compound) -> list[Any] | None:
        if compound.ids:
            return self.by_id.get(compound.ids[0], [])
        if compound.classes:
            return self.by_class.get(compound.classes[0], [])
        return None

    def select(self, selector: Selector) -> list[Any]:
        subject, rest = selector
        candidates = self._lookup(subject)
        if candidates is None:
            # A bare subject (``.menu > li``): look under the context's id or class first.
            anchor = next((c for _, c in rest if c.ids or c.classes), None)
            anchors = [] if anchor is None else [a for a in self._lookup(anchor) or []
                                                  if anchor.matches(a)]
            if anchor is not None:
                seen: set[int] = set()
                candidates = []
                for a in anchors:
                    for el in a.iterdescendants(subject.tag or etree.Element):
                        if id(el) not in seen:
                            seen.add(id(el))
                            candidates.append(el)
            elif subject.tag is not None:
                candidates = self.by_tag.get(subject.tag, [])
            else:
                candidates = self.all
        return [el for el in candidates if subject.matches(el) and _matches_context(el, rest)]


# priority: (important, inline, ids, classes and attributes, tags, order in the sheets)
Rank = tuple[int, int, int, int, int, int]
Declared = dict[str, tuple[Rank, str]]
_INLINE = (1, 0, 0, 0, 0)


def _stylesheet_styles(root: Any) -> dict[Any, Declared]:
    """Per element, the declarations its ``<style>`` rules give it (with their priority)."""
    styles: dict[Any, Declared] = collections.defaultdict(dict)
    index: _Index | None = None
    order = 0
    for style in root.iter("style"):
        media = (style.get("media") or "").lower()
        if "print" in media and "screen" not in media:
            continue
        for selectors, body in _rules(style.text or ""):
            declarations = _declarations(body)
            if not declarations:
                continue
            for selector in selectors.split(","):
                compiled = _compile(selector)
                order += 1
                if compiled is None:
                    continue
                index = index or _Index(root)
                parts, spec = compiled
                for element in index.select(parts):
                    _apply(styles[element], declarations, (0, *spec, order))
    return styles


def _apply(declared: Declared, declarations: dict[str, tuple[str, bool]],
           rank: tuple[int, int, int, int, int]) -> None:
    """Let ``declarations`` (at ``rank``: inline, specificity, order) win where they outrank."""
    for name, (value, important) in declarations.items():
        priority: Rank = (int(important), *rank)
        if name not in declared or declared[name][0] <= priority:
            declared[name] = (priority, value)


# -- the walk -----------------------------------------------------------------------------


def _subtree_reason(el: Any, style: dict[str, str], font_px: float) -> str | None:
    """Why an element and everything in it is invisible, or None."""
    if el.tag in _REMOVED_TAGS:
        return _REMOVED_TAGS[el.tag]
    if el.get("hidden") is not None:
        return "hidden-attribute"
    if style.get("display", "").strip().lower() == "none":
        return "display-none"
    opacity = style.get("opacity", "").strip()
    if opacity:
        try:
            level = float(opacity[:-1]) / 100 if opacity.endswith("%") else float(opacity)
        except ValueError:
            level = 1.0
        if level <= MAX_OPACITY:
            return "opacity"
    transform = style.get("transform", "").lower()
    if re.search(r"scale[xy]?\(\s*0(?:\.0*)?\s*[,)]", transform):
        return "scaled-away"
    for m in re.finditer(r"translate[xy3d]*\(([^)]*)\)", transform):
        if any((px := _length(v, font_px)) is not None and px <= OFF_PAGE_PX
               for v in m.group(1).split(",")):
            return "off-page"
    if style.get("position", "static").strip().lower() not in ("static", ""):
        for side in ("left", "top"):
            px = _length(style.get(side, ""), font_px)
            if px is not None and px <= OFF_PAGE_PX:
                return "off-page"
    for side in ("margin-left", "margin-top"):
        px = _length(style.get(side, ""), font_px)
        if px is not None and px <= OFF_PAGE_PX:
            return "off-page"
    indent = style.get("text-indent", "").strip().lower()
    if indent:
        px = _length(indent, font_px)
        if (px is not None and px <= OFF_PAGE_PX) or (
            indent.endswith("%") and (_length(indent, font_px, 100.0) or 0) >= 100
        ):
            return "off-page"
    clip = style.get("clip", "").lower()
    if m := re.search(r"rect\(([^)]*)\)", clip):
        sides = [_length(v, font_px) for v in re.split(r"[\s,]+", m.group(1).strip()) if v]
        if len(sides) == 4 and None not in sides:
            top, right, bottom, left = sides  # type: ignore[misc]
            if bottom <= top or right <= left:  # type: ignore[operator]
                return "clipped"
    clip_path = style.get("clip-path", "").lower()
    if (m := re.search(r"inset\(\s*([\d.]+)%", clip_path)) and float(m.group(1)) >= 50:
        return "clipped"
    if re.search(r"circle\(\s*0", clip_path):
        return "clipped"
    overflow = " ".join(style.get(k, "") for k in ("overflow", "overflow-x", "overflow-y"))
    if "hidden" in overflow.lower() or "clip" in overflow.lower():
        for side in ("width", "height"):
            px = _length(style.get(side, ""), font_px)
            if px is not None and px <= 1:
                return "clipped"
    return None


def _context(el: Any, style: dict[str, str], parent: _Context) -> _Context:
    font_px = parent.font_px
    if "font" in style and (px := _font_shorthand_size(style["font"], parent.font_px)) is not None:
        font_px = px
    if "font-size" in style:
        px = _length(style["font-size"], parent.font_px, parent.font_px)
        if px is not None and px >= 0:  # a negative size is invalid: ignored
            font_px = px
    color = parent.color
    raw_color = style.get("color") or (el.get("color") if el.tag == "font" else None)
    if raw_color:
        low = raw_color.strip().lower()
        if low not in ("inherit", "currentcolor", "unset", "initial", "revert"):
            color = parse_color(low)
    background = parent.background
    raw_bg = style.get("background-color") or style.get("background") or el.get("bgcolor")
    if raw_bg:
        found = _background(raw_bg)
        if found is not False:
            background = found  # type: ignore[assignment]
    visible = parent.visible
    visibility = style.get("visibility", "").strip().lower()
    if visibility in ("hidden", "collapse"):
        visible = False
    elif visibility == "visible":
        visible = True
    return _Context(color, background, font_px, visible)


def _text_reason(ctx: _Context) -> str | None:
    """Why text directly inside an element with this context is invisible, or None."""
    if not ctx.visible:
        return "visibility-hidden"
    if ctx.font_px < MIN_FONT_PX:
        return "tiny"
    if ctx.color is not None:
        if ctx.color[3] <= MAX_OPACITY:
            return "transparent"
        if ctx.background is not None and near(ctx.color[:3], ctx.background):
            return "background-colour"
    return None


def visible_chars(text: str | None) -> int:
    """Characters of ``text`` that are not whitespace: how every cleaner counts hidden text."""
    return sum(1 for ch in text or "" if not ch.isspace())


def near(colour: Sequence[int], background: Sequence[int]) -> bool:
    """Whether an RGB ``colour`` is within ``NEAR`` of ``background`` on every channel."""
    return all(abs(c - b) <= NEAR for c, b in zip(colour, background, strict=True))


def _inline(el: Any) -> dict[str, tuple[str, bool]]:
    style = el.get("style")
    return _declarations(style) if style else {}


def strip_hidden(root: Any) -> dict[str, int]:
    """Remove what a reader cannot see from a parsed page, in place.

    Returns the characters removed (whitespace not counted) by reason; empty if none.
    """
    sheets = _stylesheet_styles(root)
    removed: collections.Counter[str] = collections.Counter()
    contexts: dict[Any, _Context] = {}
    gone: set[Any] = set()
    drop: list[Any] = []
    page = _Context((0, 0, 0, 1.0), WHITE, DEFAULT_FONT_PX, True)
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue  # comments and processing instructions (their tails: see below)
        parent = el.getparent()
        if parent in gone:
            gone.add(el)
            continue
        declared: Declared = dict(sheets.get(el, {}))
        _apply(declared, _inline(el), _INLINE)
        style = {name: value for name, (_, value) in declared.items()}
        outer = contexts.get(parent, page) if parent is not None else page
        reason = None if parent is None else _subtree_reason(el, style, outer.font_px)
        if reason is not None:
            gone.add(el)
            drop.append(el)
            removed[reason] += visible_chars(el.text_content())
            continue
        ctx = _context(el, style, outer)
        contexts[el] = ctx
        why = _text_reason(ctx)
        if why is not None and el.tag not in ("style", "script"):
            if el.text and not el.text.isspace():
                removed[why] += visible_chars(el.text)
                el.text = None
            for child in el:
                if child.tail and not child.tail.isspace():
                    removed[why] += visible_chars(child.tail)
                    child.tail = None
    for el in drop:
        el.drop_tree()  # keeps the element's tail: the text after it is visible
    return {reason: n for reason, n in removed.items() if n}


def clean_html(text: str) -> tuple[str, dict[str, int]]:
    """``(page without hidden text, characters removed by reason)``.

    The page is returned unchanged (not re-serialized) when nothing was hidden.
    """
    if "<" not in text:
        return text, {}
    parser = lxml_html.HTMLParser(encoding="utf-8", no_network=True, remove_comments=True,
                                  default_doctype=False)
    try:
        root = lxml_html.document_fromstring(text.encode("utf-8", errors="replace"),
                                             parser=parser)
    except (etree.ParserError, ValueError):
        return text, {}
    removed = strip_hidden(root)
    if not removed:
        return text, {}
    return lxml_html.tostring(root, encoding="unicode", method="html"), removed
