"""The dashboard's conversation search in real headless Chromium: it finds by words and by session id,
and the words travel in the request body, never in a URL (which access logs would keep)."""

import httpx

from tests.support.server import ADMIN_PASSWORD, RunningServer, chat


def test_the_dashboard_searches_conversations_with_the_words_in_the_body(server: RunningServer, browser) -> None:
    from playwright.sync_api import expect

    with httpx.Client(base_url=server.url) as http:
        wanted = chat(http, "能寄到香港吗")["session_id"]
        chat(http, "where is my order")
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    page.goto(server.url + "/admin")
    page.fill("#login-username", "admin")
    page.fill("#login-password", ADMIN_PASSWORD)
    page.click("#login-form button[type=submit]")
    page.click("#tabs button[data-tab=conversations]")
    listed = page.locator("#conversation-list li[data-session]")
    expect(listed).to_have_count(2)
    page.fill("#search-q", "香港")
    page.press("#search-q", "Enter")
    expect(listed).to_have_count(1)
    expect(listed).to_have_attribute("data-session", wanted)
    page.fill("#search-q", wanted)
    page.press("#search-q", "Enter")
    expect(listed).to_have_attribute("data-session", wanted)
    assert not [url for url in urls if "/api/v1/admin/conversations?" in url]
    assert any(url.endswith("/api/v1/admin/conversations/search") for url in urls)
