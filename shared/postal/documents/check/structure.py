"""The file's structure, read with pypdf: embedded fonts, annotations, JavaScript and AcroForm."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, StreamObject

from postal.documents.check.limits import _FONT_FILES, _resolve
from postal.documents.check.results import CheckProblem
from postal.documents.zones import MM_PER_PT, Rect


def _collect_fonts(resources: Any, fonts: dict[str, bool], seen: set[int], depth: int) -> None:
    """Record every font in /Resources/Font, recursing into Form XObjects (each resource dict visited once)."""
    if not isinstance(resources, DictionaryObject) or id(resources) in seen or depth > 20:
        return
    seen.add(id(resources))
    for ref in _resolve(resources.get("/Font", DictionaryObject())).values():
        font = _resolve(ref)
        if not isinstance(font, DictionaryObject) or id(font) in seen:
            continue
        seen.add(id(font))
        name = str(font.get("/BaseFont", font.get("/Name", "unnamed")))[1:] or "unnamed"
        fonts[name] = fonts.get(name, True) and _is_embedded(font)
    for ref in _resolve(resources.get("/XObject", DictionaryObject())).values():
        xobject = _resolve(ref)
        if isinstance(xobject, StreamObject) and xobject.get("/Subtype") == "/Form":
            _collect_fonts(_resolve(xobject.get("/Resources")), fonts, seen, depth + 1)


def _is_embedded(font: DictionaryObject) -> bool:
    if font.get("/Subtype") == "/Type3":
        return True  # glyphs are content streams inside the PDF
    if font.get("/Subtype") == "/Type0":
        descendants = _resolve(font.get("/DescendantFonts"))
        if not isinstance(descendants, ArrayObject) or not descendants:
            return False
        font = _resolve(descendants[0])
    descriptor = _resolve(font.get("/FontDescriptor"))
    return isinstance(descriptor, DictionaryObject) and any(key in descriptor for key in _FONT_FILES)


def _font_problems(fonts: dict[str, bool]) -> list[CheckProblem]:
    return [
        CheckProblem(
            code="font_not_embedded",
            message=f"the font '{name}' is not embedded",
            fix=f"embed the font '{name}' (e.g. 'embed all fonts' / PDF/A export), or use an embedded font",
            measured={"font": name},
        )
        for name in sorted(n for n, embedded in fonts.items() if not embedded)
    ]


def _annotation_findings(page: Any) -> Iterator[tuple[CheckProblem | None, tuple[str, Rect] | None]]:
    """Widgets and scripts are problems; every annotation's /Rect counts for the clear zones and the border
    (a link prints nothing, but Pingen refuses interactive elements where the automation looks)."""
    annots = _resolve(page.get("/Annots"))
    if not isinstance(annots, ArrayObject):
        return
    crop = page.cropbox
    rotated = page.rotation % 360 != 0
    for ref in annots:
        annot = _resolve(ref)
        if not isinstance(annot, DictionaryObject) or annot.get("/Subtype") == "/Popup":
            continue
        subtype = str(annot.get("/Subtype", "/Unknown"))[1:]
        if subtype == "Widget":
            yield _interactive_problem("a form field (widget annotation)"), None
        if _is_javascript(annot.get("/A")) or "/AA" in annot:
            yield _javascript_problem(f"a {subtype} annotation runs JavaScript"), None
        rect = _resolve(annot.get("/Rect"))
        if not rotated and isinstance(rect, ArrayObject) and len(rect) == 4:
            x0, y0, x1, y1 = (float(v) for v in rect)
            box = Rect(
                (min(x0, x1) - float(crop.left)) * MM_PER_PT,
                (max(x0, x1) - float(crop.left)) * MM_PER_PT,
                (float(crop.top) - max(y0, y1)) * MM_PER_PT,
                (float(crop.top) - min(y0, y1)) * MM_PER_PT,
            )
            yield None, (f"{subtype} annotation", box)


def _is_javascript(action: Any) -> bool:
    action = _resolve(action)
    return isinstance(action, DictionaryObject) and action.get("/S") == "/JavaScript"


def _javascript_problem(what: str) -> CheckProblem:
    return CheckProblem(
        code="javascript_present",
        message=f"the PDF contains JavaScript: {what}",
        fix="export the PDF again without scripts or actions (e.g. 'print to PDF')",
        measured={"where": what},
    )


def _interactive_problem(what: str) -> CheckProblem:
    return CheckProblem(
        code="interactive_form",
        message=f"the PDF has interactive elements: {what}",
        fix="flatten the form (print to PDF) so that fields become plain text",
        measured={"where": what},
    )


def _document_problems(reader: PdfReader) -> list[CheckProblem]:
    root = _resolve(reader.trailer.get("/Root"))
    if not isinstance(root, DictionaryObject):
        return []
    problems = []
    open_action = _resolve(root.get("/OpenAction"))
    if _is_javascript(open_action):
        problems.append(_javascript_problem("/OpenAction"))
    if "/AA" in root:
        problems.append(_javascript_problem("document actions (/AA)"))
    names = _resolve(root.get("/Names"))
    if isinstance(names, DictionaryObject) and "/JavaScript" in names:
        problems.append(_javascript_problem("document scripts (/Names/JavaScript)"))
    if "/AcroForm" in root:
        problems.append(_interactive_problem("a form (/AcroForm)"))
    return problems
