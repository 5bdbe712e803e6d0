"""The static pages and the OpenAPI contract."""

import httpx

from tests.support.server import WIDGET_READS, RunningServer


def test_the_demo_page_embeds_the_widget_with_one_script_tag(sqlite_server: RunningServer) -> None:
    with httpx.Client(base_url=sqlite_server.url) as http:
        page = http.get("/")
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert '<meta charset="utf-8">' in page.text and '<script src="/widget.js"></script>' in page.text
        widget = http.get("/widget.js")
        assert widget.headers["content-type"].startswith("text/javascript")
        assert "/api/v1/chat" in widget.text and "Noto Sans CJK SC" in widget.text
        dashboard = http.get("/admin")
        assert '<meta charset="utf-8">' in dashboard.text and "/static/admin.js" in dashboard.text
        assert http.get("/static/admin.js").status_code == 200
        assert http.get("/static/admin.css").status_code == 200
        assert http.get("/static/demo.css").status_code == 200
        assert http.get("/static/widget.py").status_code == 404


def test_the_openapi_document_describes_the_contract(sqlite_server: RunningServer) -> None:
    with httpx.Client(base_url=sqlite_server.url) as http:
        spec = http.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert {
        "TurnResult",
        "ChatIn",
        "MessagesOut",
        "TokenOut",
        "ReviewOut",
        "AnalyticsOut",
        "RetrainJobOut",
    } <= set(schemas)
    assert set(schemas["TurnResult"]["properties"]) >= WIDGET_READS
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert "security" in spec["paths"]["/api/v1/admin/inbox"]["get"]
    assert "security" not in spec["paths"]["/api/v1/chat"]["post"]
