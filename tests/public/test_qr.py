"""`evroam evses qr LOCATION` writes a printable sheet of the location's EVSEs' QR codes (PDF or
PNG), each one encoding the address of its EVSE's public page; that page is where the driver
pays and charges."""

from __future__ import annotations

import asyncio
import io
import re
import shutil
import subprocess

from PIL import Image
from typer.testing import CliRunner

from evroam.demo import load_demo
from evroam.public import qr
from harness import httpx


async def test_qr_sheets_lead_to_the_evse_pages(make_instance, tmp_path):
    cpo = await make_instance("cpo", roles=("CPO",))
    assert await load_demo(cpo.platform)
    from evroam.cli import app

    db = f"sqlite+aiosqlite:///{cpo.db_path}"
    env = {"EVROAM_PUBLIC_URL": cpo.url, "COLUMNS": "200"}
    pdf_path, png_path = tmp_path / "gent.pdf", tmp_path / "gent.png"
    run = CliRunner().invoke
    result = await asyncio.to_thread(run, app, ["evses", "qr", "EVR-GENT-1", "--out", str(pdf_path), "--db", db],
                                     env=env)
    assert result.exit_code == 0, result.output
    urls = re.findall(r"(http://\S+/charge/\S+)", result.output)
    assert urls == [f"{cpo.url}/charge/EVR-GENT-1/EVR-GENT-1-E{i}" for i in (1, 2, 3)]
    async with httpx.AsyncClient() as http:
        for url in urls:
            page = await http.get(url)
            assert page.status_code == 200 and "Pay and charge" in page.text

    # the PDF: one A4 page, a dark square per dark module of each code, the EVSE IDs printed
    data = pdf_path.read_bytes()
    assert data.startswith(b"%PDF-1.4") and data.rstrip().endswith(b"%%EOF") and b"/Count 1" in data
    squares = len(re.findall(rb"\d re\n", data))
    assert squares == sum(sum(map(sum, qr.matrix(url))) for url in urls)
    for evse_id in (b"NL*EVR*E1001*1", b"NL*EVR*E1001*2", b"NL*EVR*E1002*1"):
        assert b"(" + evse_id + b") Tj" in data

    # the PNG: the first code's modules, read back from the pixels, are the code of the first URL
    result = await asyncio.to_thread(run, app, ["evses", "qr", "EVR-GENT-1", "--format", "png", "--out",
                                                str(png_path), "--db", db], env=env)
    assert result.exit_code == 0, result.output
    image = Image.open(io.BytesIO(png_path.read_bytes())).convert("L")
    assert image.size == (2480, 3507)  # A4 at 300 dpi
    modules = qr.matrix(urls[0])
    scale = 300 / 72
    unit = int(170 * scale / (len(modules) + 2 * qr.QUIET))
    size = unit * (len(modules) + 2 * qr.QUIET)
    qx, qy = (image.size[0] // 2 - size) // 2, int(28 * scale)
    read = [[image.getpixel((qx + (c + qr.QUIET) * unit + unit // 2, qy + (r + qr.QUIET) * unit + unit // 2)) < 128
             for c in range(len(modules))] for r in range(len(modules))]
    assert read == modules

    # and a QR code reader (zbar, when installed) reads the three addresses off the sheet
    if shutil.which("zbarimg"):
        decoded = await asyncio.to_thread(subprocess.run, ["zbarimg", "-q", "--raw", str(png_path)],
                                          capture_output=True, text=True)
        assert sorted(decoded.stdout.split()) == sorted(urls)

    bad = await asyncio.to_thread(run, app, ["evses", "qr", "NOWHERE", "--db", db], env=env)
    assert bad.exit_code == 1 and "not found" in bad.output
