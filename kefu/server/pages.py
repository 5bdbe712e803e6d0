"""The static pages: the demo shop with the widget (``/``), the widget script and the dashboard.

Plain files in ``kefu/server/static`` (no build step, nothing fetched from the internet); they are
package data, so a wheel must include them.
"""

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

STATIC_DIR = Path(__file__).resolve().parent / "static"
# The dashboard's own assets; anything else under /static is not served.
ASSETS = {"admin.js": "text/javascript", "admin.css": "text/css"}

router = APIRouter(include_in_schema=False)


def _file(name: str, media_type: str, cache: str = "no-cache") -> FileResponse:
    # no-cache: browsers revalidate (cheap, with the ETag) so a kefu upgrade is picked up at once
    return FileResponse(STATIC_DIR / name, media_type=media_type, headers={"Cache-Control": cache})


@router.get("/")
def demo_page() -> FileResponse:
    return _file("index.html", "text/html; charset=utf-8")


@router.get("/widget.js")
def widget() -> FileResponse:
    return _file("widget.js", "text/javascript; charset=utf-8")


@router.get("/admin")
def dashboard() -> FileResponse:
    return _file("admin.html", "text/html; charset=utf-8")


@router.get("/static/{name}")
def asset(name: str) -> FileResponse:
    if name not in ASSETS:
        raise HTTPException(404, "not found")
    return _file(name, f"{ASSETS[name]}; charset=utf-8")
