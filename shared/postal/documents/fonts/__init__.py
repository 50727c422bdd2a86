"""The embedded DejaVu Sans fonts: parsed once per process, subset per document without fontTools.

fpdf2's `add_font` parses the whole TTF for every `FPDF` (~40 ms per face), and its output step subsets the font
with fontTools (~45 ms per face) and then closes it. Both are far too slow for a ~10 ms letter. Here:

- each face is parsed once per process into a *template* `TTFFont` (metrics, cmap, glyph ids);
- every document gets a cheap copy of the template with its own subset state (`attach_fonts`);
- `FontOutputProducer` embeds each font with a byte-level subset that keeps the original glyph ids: the outlines of
  the used glyphs (plus composite components) and empty glyphs elsewhere. The PDF maps codes to those ids through the
  CIDToGIDMap, so no renumbering is needed.

The copies share the template's read-only tables (cmap, widths, glyph ids); nothing a document does is written back
to the template, so documents rendered in sequence, interleaved or in threads don't see each other's glyphs.
"""

from __future__ import annotations

import copy
import struct
import sys
from array import array
from functools import cache
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.fonts import Glyph, SubsetMap, TTFFont
from fpdf.output import (  # the helpers fpdf2 2.8.9 uses for its own TrueType fonts, reused so output stays identical
    CIDSystemInfo,
    OutputProducer,
    PDFArray,
    PDFContentStream,
    PDFFont,
    PDFFontStream,
    _build_cmap_blocks,
    _tt_font_widths,
)
from fpdf.syntax import Name

FONT_DIR = Path(__file__).parent
FAMILY = "dejavu"
_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}

# Tables a CIDFontType2 program needs (PDF 32000 §9.9) plus OS/2 and gasp; cmap, name, kern and the OpenType layout
# tables are not used by a PDF reader for an Identity-H font with a CIDToGIDMap, so they are left out.
_KEPT_TABLES = ("OS/2", "cvt ", "fpgm", "gasp", "hhea", "maxp", "prep")

# Composite glyph flags (OpenType `glyf` spec).
_ARG_1_AND_2_ARE_WORDS = 0x0001
_WE_HAVE_A_SCALE = 0x0008
_MORE_COMPONENTS = 0x0020
_WE_HAVE_AN_X_AND_Y_SCALE = 0x0040
_WE_HAVE_A_TWO_BY_TWO = 0x0080


def _checksum(data: bytes) -> int:
    words = array("I", data + b"\0" * (-len(data) % 4))  # array: ~50x faster than struct for 25 KB tables
    if sys.byteorder == "little":
        words.byteswap()
    return sum(words) & 0xFFFFFFFF


class TrueTypeProgram:
    """A TrueType file split into its tables once, able to write a glyph subset in well under a millisecond."""

    def __init__(self, data: bytes) -> None:
        num_tables = struct.unpack_from(">H", data, 4)[0]
        tables: dict[str, bytes] = {}
        for i in range(num_tables):
            tag, _, offset, length = struct.unpack_from(">4sIII", data, 12 + 16 * i)
            tables[tag.decode("latin-1")] = data[offset : offset + length]
        self.num_glyphs: int = struct.unpack_from(">H", tables["maxp"], 4)[0]
        self.num_hmetrics: int = struct.unpack_from(">H", tables["hhea"], 34)[0]
        count = self.num_glyphs + 1
        if struct.unpack_from(">h", tables["head"], 50)[0] == 1:
            self.loca: tuple[int, ...] = struct.unpack_from(f">{count}I", tables["loca"])
        else:
            self.loca = tuple(2 * o for o in struct.unpack_from(f">{count}H", tables["loca"]))
        self.glyf = tables["glyf"]
        self.hmtx = tables["hmtx"]
        self.head = tables["head"]
        # post format 3: no glyph names (62 KB in DejaVu), same metrics header.
        self.post = struct.pack(">I", 0x00030000) + tables["post"][4:32]
        self.kept = {tag: tables[tag] for tag in _KEPT_TABLES if tag in tables}

    def _glyph(self, gid: int) -> bytes:
        return self.glyf[self.loca[gid] : self.loca[gid + 1]]

    def _with_components(self, gids: set[int]) -> list[int]:
        """The glyphs plus every component their composite glyphs draw (accented letters are often composites)."""
        needed = set(gids) | {0}
        stack = list(needed)
        while stack:
            data = self._glyph(stack.pop())
            if len(data) < 10 or struct.unpack_from(">h", data)[0] >= 0:
                continue
            pos = 10
            while True:
                flags, component = struct.unpack_from(">HH", data, pos)
                if component not in needed:
                    needed.add(component)
                    stack.append(component)
                pos += 4 + (4 if flags & _ARG_1_AND_2_ARE_WORDS else 2)
                if flags & _WE_HAVE_A_SCALE:
                    pos += 2
                elif flags & _WE_HAVE_AN_X_AND_Y_SCALE:
                    pos += 4
                elif flags & _WE_HAVE_A_TWO_BY_TWO:
                    pos += 8
                if not flags & _MORE_COMPONENTS:
                    break
        return sorted(needed)

    def subset(self, gids: set[int]) -> bytes:
        """A valid TrueType file with the same glyph ids, where only `gids` (and their components) have outlines."""
        glyf = bytearray()
        loca = [0] * (self.num_glyphs + 1)
        hmtx = bytearray(len(self.hmtx))
        nh = self.num_hmetrics
        previous = 0
        for gid in self._with_components(gids):
            loca[previous + 1 : gid + 1] = [len(glyf)] * (gid - previous)
            glyf += self._glyph(gid)
            glyf += b"\0" * (-len(glyf) % 4)
            previous = gid
            # Widths of unused glyphs are zeroed (the PDF carries its own /W widths); it shrinks the file.
            if gid < nh:
                hmtx[4 * gid : 4 * gid + 4] = self.hmtx[4 * gid : 4 * gid + 4]
            else:
                at = 4 * nh + 2 * (gid - nh)
                hmtx[at : at + 2] = self.hmtx[at : at + 2]
        loca[previous + 1 :] = [len(glyf)] * (self.num_glyphs - previous)
        head = bytearray(self.head)
        head[8:12] = b"\0\0\0\0"  # checkSumAdjustment, set below
        head[50:52] = struct.pack(">h", 1)  # long loca offsets
        tables = dict(self.kept)
        tables.update(
            head=bytes(head),
            glyf=bytes(glyf),
            loca=struct.pack(f">{len(loca)}I", *loca),
            hmtx=bytes(hmtx),
            post=self.post,
        )
        return _assemble(tables)


def _assemble(tables: dict[str, bytes]) -> bytes:
    tags = sorted(tables)
    count = len(tags)
    entry_selector = count.bit_length() - 1
    search_range = 16 * (1 << entry_selector)
    header = struct.pack(">IHHHH", 0x00010000, count, search_range, entry_selector, 16 * count - search_range)
    directory = bytearray()
    body = bytearray()
    offset = len(header) + 16 * count
    head_at = 0
    for tag in tags:
        data = tables[tag]
        if tag == "head":
            head_at = offset + len(body)
        directory += struct.pack(">4sIII", tag.encode("latin-1"), _checksum(data), offset + len(body), len(data))
        body += data
        body += b"\0" * (-len(body) % 4)
    font = bytearray(header + directory + body)
    font[head_at + 8 : head_at + 12] = struct.pack(">I", (0xB1B0AFBA - _checksum(bytes(font))) & 0xFFFFFFFF)
    return bytes(font)


class _DocumentSubset(SubsetMap):
    """One document's glyph subset.

    fpdf2 memoises `pick`/`get_glyph` with `functools.cache`, i.e. in one process-wide dict keyed by instance, and
    only empties it in its own (bypassed) font output step. Per-instance dicts keep the state with the document.
    """

    def __init__(self, font: TTFFont) -> None:
        self._picked: dict[int, int | None] = {}
        super().__init__(font)

    def pick(self, unicode: int) -> int | None:  # type: ignore[override]
        try:
            return self._picked[unicode]
        except KeyError:
            glyph = self.get_glyph(unicode=unicode)
            if glyph is None and unicode not in self.font.missing_glyphs:
                self.font.missing_glyphs.append(unicode)
            code = self._picked[unicode] = self.pick_glyph(glyph)
            return code

    def get_glyph(  # type: ignore[override]
        self,
        glyph: int | None = None,
        unicode: int | tuple[int, ...] | None = None,
        glyph_name: str | None = None,
        glyph_width: int | None = None,
    ) -> Glyph | None:
        return SubsetMap.get_glyph.__wrapped__(self, glyph, unicode, glyph_name, glyph_width)


class _ParsedFace:
    def __init__(self, style: str) -> None:
        path = FONT_DIR / _FILES[style]
        # TTFFont wants an FPDF only to number the font and to look at `render_color_fonts`.
        self.template = TTFFont(FPDF(), path, f"{FAMILY}{style}", style)
        # Everything the documents need is read now; the fontTools object is never used again.
        self.template.ttfont.close()
        self.program = TrueTypeProgram(path.read_bytes())


@cache
def _face(style: str) -> _ParsedFace:
    return _ParsedFace(style)


def _faces() -> dict[str, _ParsedFace]:
    return {f.template.fontkey: f for f in (_face(style) for style in _FILES)}


def warm_up() -> None:
    """Parse both faces now (e.g. at Lambda init) instead of on the first document."""
    _faces()


def attach_fonts(pdf: FPDF) -> None:
    """Make `FAMILY` (regular and bold) available to `pdf` without parsing anything.

    The document must then be written with `output_producer_class=FontOutputProducer`.
    """
    for face in _faces().values():
        font: TTFFont = copy.copy(face.template)
        font.i = len(pdf.fonts) + 1
        font.missing_glyphs = []
        font.biggest_size_pt = 0
        # fpdf2 sets the descriptor's name and object id while writing: each document needs its own.
        font.desc = copy.copy(face.template.desc)
        font.subset = _DocumentSubset(font)
        pdf.fonts[font.fontkey] = font


class FontOutputProducer(OutputProducer):
    """fpdf2's output producer, with the fonts from `attach_fonts` embedded by `TrueTypeProgram.subset`."""

    def _add_fonts(self, *_args: Any) -> dict[int, Any]:
        faces = _faces()
        font_objs_per_index: dict[int, Any] = {}
        for font in sorted(self.fpdf.fonts.values(), key=lambda f: f.i):
            if not isinstance(font, TTFFont) or font.fontkey not in faces:
                raise TypeError(f"font {font.fontkey!r} was not added by attach_fonts and cannot be embedded here")
            face = faces[font.fontkey]
            # Same structure and object order as fpdf2's own TrueType branch (output.py, `_add_fonts`).
            fontname = f"MPDFAA+{font.name}"
            used = [(glyph, code) for glyph, code in font.subset.items() if glyph is not None]
            composite = PDFFont(subtype="Type0", base_font=fontname, encoding="Identity-H")
            self._add_pdf_obj(composite, "fonts")
            font_objs_per_index[font.i] = composite
            cid_font = PDFFont(
                subtype="CIDFontType2", base_font=fontname, d_w=font.desc.missing_width, w=_tt_font_widths(font)
            )
            self._add_pdf_obj(cid_font, "fonts")
            composite.descendant_fonts = PDFArray([cid_font])

            to_unicode = _to_unicode(used)
            self._add_pdf_obj(to_unicode, "fonts")
            composite.to_unicode = to_unicode

            system_info = CIDSystemInfo()
            self._add_pdf_obj(system_info, "fonts")
            cid_font.c_i_d_system_info = system_info

            descriptor = font.desc
            descriptor.font_name = Name(fontname)
            self._add_pdf_obj(descriptor, "fonts")
            cid_font.font_descriptor = descriptor

            cid_to_gid_obj = _cid_to_gid(used)
            self._add_pdf_obj(cid_to_gid_obj, "fonts")
            cid_font.c_i_d_to_g_i_d_map = cid_to_gid_obj

            font_file = PDFFontStream(contents=face.program.subset({glyph.glyph_id for glyph, _ in used}))
            self._add_pdf_obj(font_file, "fonts")
            descriptor.font_file2 = font_file  # type: ignore[attr-defined]
        return font_objs_per_index


def _to_unicode(used: list[tuple[Any, int]]) -> PDFContentStream:
    """The ToUnicode CMap of the codes in use, so text is extractable (and the check can read it)."""
    bf_char = [
        f"<{code:04X}> <{''.join(chr(u).encode('utf-16-be').hex().upper() for u in glyph.unicode)}>\n"
        for glyph, code in used
        if isinstance(glyph.unicode, tuple) and glyph.unicode
    ]
    return PDFContentStream(
        (
            "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
            "/CIDSystemInfo\n<</Registry (Adobe)\n/Ordering (UCS)\n/Supplement 0\n>> def\n"
            "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
            "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
            f"{_build_cmap_blocks(bf_char, 'bfchar')}"
            "endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend"
        ).encode("latin-1")
    )


def _cid_to_gid(used: list[tuple[Any, int]]) -> PDFContentStream:
    """The CIDToGIDMap: two bytes per code, up to the highest code in use (the content streams use no other
    codes, and a full 65536-entry map would cost a 128 KB zlib pass per font)."""
    cid_to_gid = bytearray(2 * (max((code for _, code in used), default=0) + 1))
    for glyph, code in used:
        cid_to_gid[2 * code : 2 * code + 2] = glyph.glyph_id.to_bytes(2, "big")
    return PDFContentStream(contents=bytes(cid_to_gid), compress=True)
