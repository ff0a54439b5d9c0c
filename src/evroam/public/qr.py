"""QR codes of our EVSEs, each leading to the EVSE's public page (price, status, "Pay and charge"),
on a printable sheet: A4 PDF (vector: each QR module a filled square, text in Helvetica, so it
prints sharp at any size) or PNG (300 dpi). Six labels per page: the QR code, the EVSE ID, the
location and the address of the page."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

import segno

from evroam.settings import Settings

A4 = (595.276, 841.89)  # points
COLUMNS, ROWS = 2, 3
QUIET = 4  # modules of white border around a QR code (its quiet zone)


def evse_url(settings: Settings, location_id: str, evse_uid: str) -> str:
    """The address of an EVSE's public page: what its QR code says."""
    return f"{settings.base_url}/charge/{quote(location_id, safe='')}/{quote(evse_uid, safe='')}"


@dataclass(frozen=True)
class Label:
    url: str
    title: str  # the EVSE ID
    subtitle: str  # the location
    note: str = "Scan to pay by card and charge"


def matrix(url: str) -> list[list[bool]]:
    """The QR code's modules (True: dark), without quiet zone; error correction M."""
    code = segno.make_qr(url, error="m")
    return [[bool(v) for v in row] for row in code.matrix]


# ------------------------------------------------------------------ PDF


def _pdf_text(value: str) -> str:
    raw = value.encode("latin-1", "replace").decode("latin-1")
    return raw.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def pdf(labels: list[Label]) -> bytes:
    """An A4 PDF with the labels, six per page."""
    width, height = A4
    cell_w, cell_h = width / COLUMNS, height / ROWS
    pages: list[bytes] = []
    for first in range(0, max(len(labels), 1), COLUMNS * ROWS):
        ops: list[str] = ["0 g"]
        for i, label in enumerate(labels[first:first + COLUMNS * ROWS]):
            col, row = i % COLUMNS, i // COLUMNS
            x0, top = col * cell_w, height - row * cell_h
            modules = matrix(label.url)
            size = 170.0  # points of the code with its quiet zone
            unit = size / (len(modules) + 2 * QUIET)
            qx, qy = x0 + (cell_w - size) / 2, top - 28 - size
            ops.append(f"0.85 G 0.5 w {x0 + 14:.2f} {top - cell_h + 14:.2f} {cell_w - 28:.2f} {cell_h - 28:.2f} re S")
            for r, line in enumerate(modules):
                for c, dark in enumerate(line):
                    if dark:
                        x = qx + (c + QUIET) * unit
                        y = qy + size - (r + QUIET + 1) * unit
                        ops.append(f"{x:.3f} {y:.3f} {unit:.3f} {unit:.3f} re")
            ops.append("f")
            texts = [(label.title, 16, "F2", qy - 22), (label.subtitle, 11, "F1", qy - 40),
                     (label.note, 10, "F1", qy - 58), (label.url, 7, "F1", qy - 74)]
            for text, pt, font, y in texts:
                text = text[:70]
                approx = len(text) * pt * 0.5
                ops.append(f"BT /{font} {pt} Tf {x0 + (cell_w - approx) / 2:.2f} {y:.2f} Td ({_pdf_text(text)}) Tj ET")
        pages.append("\n".join(ops).encode("latin-1"))
    return _pdf_document(pages)


def _pdf_document(contents: list[bytes]) -> bytes:
    objects: list[bytes] = []
    n_pages = len(contents)
    # 1 catalog, 2 pages, 3 Helvetica, 4 Helvetica-Bold, then (page, content) pairs
    kids = " ".join(f"{5 + 2 * i} 0 R" for i in range(n_pages))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {n_pages} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>")
    for i, content in enumerate(contents):
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {A4[0]} {A4[1]}] "
                       f"/Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents {6 + 2 * i} 0 R >>".encode())
        objects.append(f"<< /Length {len(content)} >>\nstream\n".encode() + content + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


# ------------------------------------------------------------------ PNG


def png(labels: list[Label], dpi: int = 300) -> list[bytes]:
    """One PNG per A4 page of labels (at `dpi`)."""
    import io

    from PIL import Image, ImageDraw, ImageFont

    scale = dpi / 72
    width, height = int(A4[0] * scale), int(A4[1] * scale)
    cell_w, cell_h = width // COLUMNS, height // ROWS
    fonts = {size: _font(ImageFont, int(size * scale)) for size in (16, 11, 10, 7)}
    pages = []
    for first in range(0, max(len(labels), 1), COLUMNS * ROWS):
        image = Image.new("L", (width, height), 255)
        draw = ImageDraw.Draw(image)
        for i, label in enumerate(labels[first:first + COLUMNS * ROWS]):
            col, row = i % COLUMNS, i // COLUMNS
            x0, y0 = col * cell_w, row * cell_h
            draw.rectangle([x0 + 14 * scale, y0 + 14 * scale, x0 + cell_w - 14 * scale, y0 + cell_h - 14 * scale],
                           outline=200, width=2)
            modules = matrix(label.url)
            unit = int(170 * scale / (len(modules) + 2 * QUIET))
            size = unit * (len(modules) + 2 * QUIET)
            qx, qy = x0 + (cell_w - size) // 2, y0 + int(28 * scale)
            for r, line in enumerate(modules):
                for c, dark in enumerate(line):
                    if dark:
                        x, y = qx + (c + QUIET) * unit, qy + (r + QUIET) * unit
                        draw.rectangle([x, y, x + unit - 1, y + unit - 1], fill=0)
            y = qy + size + int(8 * scale)
            for text, pt in ((label.title, 16), (label.subtitle, 11), (label.note, 10), (label.url, 7)):
                font = fonts[pt]
                w = draw.textlength(text[:70], font=font)
                draw.text((x0 + (cell_w - w) / 2, y), text[:70], fill=0, font=font)
                y += int(pt * 1.6 * scale)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", dpi=(dpi, dpi))
        pages.append(buffer.getvalue())
    return pages


def _font(ImageFont, size: int):  # noqa: N803
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # an old Pillow without scalable default font
        return ImageFont.load_default()
