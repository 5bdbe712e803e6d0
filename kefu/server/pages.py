"""The static pages: the demo shop with the widget (``/``), the widget script and the dashboard.

Plain files in ``kefu/server/static`` (no build step, nothing fetched from the internet); they are
package data, so a wheel must include them.

The HTML pages carry a Content-Security-Policy that lets them run only kefu's own files: they have no
inline script or style (the widget adopts a stylesheet built in script, which the policy allows; the
dashboard sets styles through the DOM, never as style attributes), so an injected ``<script>`` or
``onclick=`` would not run. Neither page may be framed, so no other site can lay them under its own
buttons (clickjacking).
"""

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

STATIC_DIR = Path(__file__).resolve().parent / "static"
# The pages' own assets; anything else under /static is not served.
ASSETS = {"admin.js": "text/javascript", "admin.css": "text/css", "demo.css": "text/css"}
PAGE_POLICY = (
    "default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
PAGE_HEADERS = {"Content-Security-Policy": PAGE_POLICY, "X-Frame-Options": "DENY"}

router = APIRouter(include_in_schema=False)


def _file(name: str, media_type: str, headers: dict[str, str] | None = None) -> FileResponse:
    # no-cache: browsers revalidate (cheap, with the ETag) so a kefu upgrade is picked up at once
    headers = {"Cache-Control": "no-cache", **(headers or {})}
    return FileResponse(STATIC_DIR / name, media_type=media_type, headers=headers)


def _page(name: str) -> FileResponse:
    return _file(name, "text/html; charset=utf-8", PAGE_HEADERS)


@router.get("/")
def demo_page() -> FileResponse:
    return _page("index.html")


@router.get("/widget.js")
def widget() -> FileResponse:
    return _file("widget.js", "text/javascript; charset=utf-8")


@router.get("/admin")
def dashboard() -> FileResponse:
    return _page("admin.html")


@router.get("/static/{name}")
def asset(name: str) -> FileResponse:
    if name not in ASSETS:
        raise HTTPException(404, "not found")
    return _file(name, f"{ASSETS[name]}; charset=utf-8")
