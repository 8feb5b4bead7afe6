"""Text a reader cannot see, found among a PDF page's text objects (PDFium).

A text object is hidden when its render mode is invisible (mode 3, the OCR-layer trick), its
fill is fully transparent or white-ish (assuming the usual white page), its effective font
size is under ``MIN_FONT_PT``, or it lies entirely off the page. Those characters are dropped
before structure is read; :func:`hidden_objects` says which objects they are.
"""

from __future__ import annotations

import ctypes
import math

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

MIN_FONT_PT = 1.5
WHITE = 245  # every channel at least this: white on a white page


def _effective_size(obj: ctypes.c_void_p) -> float:
    size = ctypes.c_float()
    if not pdfium_c.FPDFTextObj_GetFontSize(obj, ctypes.byref(size)):
        return 0.0
    matrix = pdfium_c.FS_MATRIX()
    if not pdfium_c.FPDFPageObj_GetMatrix(obj, ctypes.byref(matrix)):
        return float(size.value)
    scale = math.sqrt(abs(matrix.a * matrix.d - matrix.b * matrix.c))
    return float(size.value) * scale


def _is_hidden(obj: ctypes.c_void_p, width: float, height: float) -> str | None:
    if pdfium_c.FPDFTextObj_GetTextRenderMode(obj) == pdfium_c.FPDF_TEXTRENDERMODE_INVISIBLE:
        return "invisible"
    r, g, b, a = (ctypes.c_uint() for _ in range(4))
    if pdfium_c.FPDFPageObj_GetFillColor(obj, ctypes.byref(r), ctypes.byref(g), ctypes.byref(b),
                                         ctypes.byref(a)):
        if a.value == 0:
            return "transparent"
        if min(r.value, g.value, b.value) >= WHITE:
            return "white"
    if _effective_size(obj) < MIN_FONT_PT:
        return "tiny"
    left, bottom, right, top = (ctypes.c_float() for _ in range(4))
    bounded = pdfium_c.FPDFPageObj_GetBounds(obj, ctypes.byref(left), ctypes.byref(bottom),
                                             ctypes.byref(right), ctypes.byref(top))
    outside = right.value < 0 or top.value < 0 or left.value > width or bottom.value > height
    return "off-page" if bounded and outside else None


def hidden_objects(page: pdfium.PdfPage) -> dict[int, str]:
    """``{address of a hidden text object: why}`` for one page (usually empty)."""
    width, height = page.get_size()
    hidden: dict[int, str] = {}
    for index in range(pdfium_c.FPDFPage_CountObjects(page.raw)):
        obj = pdfium_c.FPDFPage_GetObject(page.raw, index)
        if pdfium_c.FPDFPageObj_GetType(obj) != pdfium_c.FPDF_PAGEOBJ_TEXT:
            continue
        why = _is_hidden(obj, width, height)
        if why is not None:
            hidden[ctypes.cast(obj, ctypes.c_void_p).value or 0] = why
    return hidden


def hidden_reasons(textpage: pdfium.PdfTextPage, count: int, hidden: dict[int, str]
                   ) -> list[str | None]:
    """For each character index of the page's text, why a reader cannot see it (None: seen)."""
    if not hidden:
        return [None] * count
    reasons: list[str | None] = []
    for index in range(count):
        obj = pdfium_c.FPDFText_GetTextObject(textpage.raw, index)
        address = ctypes.cast(obj, ctypes.c_void_p).value if obj else None
        reasons.append(hidden.get(address) if address is not None else None)
    return reasons
