"""A customer and an agent in real headless Chromium: the widget on the demo page and the dashboard.

The customer asks a question the knowledge base answers (with its source), then asks for a person; an
agent signs in to /admin, claims the conversation and replies; the reply appears in the customer's
widget through its polling. The agent closes another conversation, whose order number is then gone. Both pages run under their Content-Security-Policy, which must refuse
nothing they do; the dashboard's session is a cookie that outlives a reload and goes at sign-out.
Screenshots for the README go to docs/screenshots/.
"""

from pathlib import Path

import httpx

from tests.support.server import ADMIN_PASSWORD, RunningServer, chat

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
AGENT_REPLY = "您好，我是客服小美。您的订单已经发货了，明天送达。"

def _handed_off_with_an_order_id(server: RunningServer) -> str:
    """A conversation through the chat API that filled the order_id slot, then asked for a person."""
    with httpx.Client(base_url=server.url) as http:
        session = chat(http, "where is my order")["session_id"]
        chat(http, "A12345", session)
        assert chat(http, "talk to a human", session)["handoff"]
    assert server.services.repo.get_conversation(session).state["slots"] == {"order_id": "A12345"}
    return session


def test_customer_and_agent_talk_through_the_widget_and_the_dashboard(server: RunningServer, browser) -> None:
    from playwright.sync_api import expect

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    def refused(page_name: str, message) -> None:
        if "Content Security Policy" in message.text:
            errors.append(f"{page_name}: {message.text}")

    customer = browser.new_page(viewport={"width": 1280, "height": 800})
    customer.on("pageerror", lambda error: errors.append(f"widget: {error}"))
    customer.on("console", lambda message: refused("widget", message))
    customer.goto(server.url + "/")
    expect(customer.locator(".kefu-root")).to_have_css("position", "fixed")  # its stylesheet applies
    customer.click(".kefu-launcher")
    log = customer.locator(".kefu-log")

    def say(text: str) -> None:
        customer.fill(".kefu-form input", text)
        customer.press(".kefu-form input", "Enter")

    say("你好")
    expect(log.locator(".kefu-bot .kefu-bubble").nth(1)).to_have_text("您好！有什么可以帮您？")
    say("Do you ship to Hong Kong?")
    answer = log.locator(".kefu-bot").nth(2)
    expect(answer.locator(".kefu-bubble")).to_contain_text("SF Express")
    expect(answer.locator(".kefu-sources")).to_contain_text("Do you ship to Hong Kong?")
    say("我要人工客服")
    expect(customer.locator(".kefu-status")).to_have_text("等待人工客服")

    agent = browser.new_page(viewport={"width": 1280, "height": 800})
    agent.on("pageerror", lambda error: errors.append(f"dashboard: {error}"))
    agent.on("console", lambda message: refused("dashboard", message))
    agent.goto(server.url + "/admin")
    agent.fill("#login-username", "admin")
    agent.fill("#login-password", ADMIN_PASSWORD)
    agent.click("#login-form button[type=submit]")
    ticket = agent.locator("#open-tickets li[data-session]")
    expect(ticket).to_have_count(1)
    ticket.click()
    expect(agent.locator("#inbox-detail .transcript")).to_contain_text("我要人工客服")
    agent.click("#claim")
    agent.fill("#agent-reply", AGENT_REPLY)
    agent.press("#agent-reply", "Enter")
    expect(agent.locator("#inbox-detail .turn.agent")).to_contain_text(AGENT_REPLY)
    expect(agent.locator("#my-tickets li[data-session]")).to_have_count(1)

    # the widget polls every two seconds: the agent's words reach the customer without a reload
    expect(log.locator(".kefu-agent .kefu-bubble")).to_have_text(AGENT_REPLY, timeout=15_000)
    expect(customer.locator(".kefu-status")).to_have_text("人工客服已接入")
    customer.screenshot(path=str(SCREENSHOTS / "widget.png"))
    agent.screenshot(path=str(SCREENSHOTS / "dashboard.png"))
    assert (SCREENSHOTS / "widget.png").stat().st_size > 10_000

    # the other dashboard pages render from the same data
    agent.click("#tabs button[data-tab=analytics]")
    expect(agent.locator("#stat-messages")).to_have_text("3")
    expect(agent.locator("#chart-days svg rect")).not_to_have_count(0)
    expect(agent.locator("#chart-intents svg text").first).to_be_visible()
    agent.click("#tabs button[data-tab=reviews]")
    expect(agent.locator("#reviews-empty")).to_be_visible()
    # a turn the bot could not answer joins the queue, its words highlighted by how much they made the guess
    httpx.post(server.url + "/api/v1/chat", json={"text": "tell me a joke"}).raise_for_status()
    agent.click("#tabs button[data-tab=reviews]")
    expect(agent.locator("#review-rows .attr")).to_have_text(["tell", "me", "a", "joke"])
    agent.click("#tabs button[data-tab=users]")
    expect(agent.locator("#user-rows tr")).to_have_count(1)

    # closing a conversation ends it, takes it out of the inbox and deletes what the customer told the bot
    session = _handed_off_with_an_order_id(server)
    agent.click("#tabs button[data-tab=inbox]")
    waiting = agent.locator(f"#open-tickets li[data-session='{session}']")
    waiting.click()
    expect(agent.locator("#inbox-detail .transcript")).to_contain_text("A12345")
    agent.click("#close")
    expect(agent.locator("#inbox-detail .badge")).to_have_text("closed")
    expect(waiting).to_have_count(0)
    expect(agent.locator("#close")).to_have_count(0)
    closed = server.services.repo.get_conversation(session)
    assert closed.status == "closed" and closed.state["slots"] == {}

    # the session is an HttpOnly cookie: it survives a reload, no script can read it, sign-out ends it
    agent.reload()
    expect(agent.locator("#who")).to_have_text("admin (admin)")
    assert "kefu_session" not in agent.evaluate("document.cookie")
    agent.click("#logout")
    expect(agent.locator("#login")).to_be_visible()
    agent.reload()
    expect(agent.locator("#login")).to_be_visible()
    assert errors == []


def test_after_a_handoff_the_log_ends_at_its_last_line_and_says_so_once(server: RunningServer, browser) -> None:
    """The customer who asks for a person reads the bot's handoff reply once, in the log (the project's
    words: apology, opening hours), with its end in view; the header says what the chat is waiting for."""
    from playwright.sync_api import expect

    customer = browser.new_page(viewport={"width": 1280, "height": 800})
    customer.goto(server.url + "/")
    customer.click(".kefu-launcher")
    log = customer.locator(".kefu-log")
    for i, text in enumerate(["你好", "Do you ship to Hong Kong?", "你好", "Do you ship to Hong Kong?", "我要人工客服"]):
        customer.fill(".kefu-form input", text)
        customer.press(".kefu-form input", "Enter")
        expect(log.locator(".kefu-bot")).to_have_count(i + 2)  # the greeting, then one answer per message
    expect(customer.locator(".kefu-root")).to_have_attribute("data-status", "handoff")
    expect(log.locator(".kefu-bot .kefu-bubble").last).to_have_text("正在为您转接人工客服，请稍候。")
    customer.wait_for_timeout(300)  # any layout change after the answer has happened by now
    overflow, hidden = customer.evaluate(
        "(() => { const l = document.querySelector('.kefu-log');"
        " return [l.scrollHeight - l.clientHeight, l.scrollHeight - l.scrollTop - l.clientHeight]; })()"
    )
    assert overflow > 100  # the log scrolls, so its end could be out of view
    assert hidden <= 1
    assert customer.evaluate("document.querySelector('.kefu-panel').innerText.split('转接').length - 1") == 1
    expect(customer.locator(".kefu-status")).to_have_text("等待人工客服")


def test_the_widget_keeps_its_conversations_key_and_resends_a_lost_message_once(
    server: RunningServer, browser
) -> None:
    from playwright.sync_api import expect

    page = browser.new_page()
    sent: list[dict] = []

    def lose_the_first_answer(route) -> None:
        sent.append(route.request.post_data_json)
        if len(sent) == 1:
            route.fetch()  # the server records the message; its answer never reaches the page
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/api/v1/chat", lose_the_first_answer)
    page.goto(server.url + "/")
    page.click(".kefu-launcher")
    page.fill(".kefu-form input", "where is my order")
    page.press(".kefu-form input", "Enter")
    log = page.locator(".kefu-log")
    expect(log.locator(".kefu-bot .kefu-bubble").nth(1)).to_have_text("What is your order number (e.g. A12345)?")
    assert len(sent) == 2 and sent[0] == sent[1] and len(sent[0]["client_message_id"]) >= 16
    session = page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('kefu.session:'))")
    session_id = page.evaluate(f"localStorage.getItem({session[0]!r})")
    assert [t.role for t in server.services.repo.history(session_id)] == ["customer", "bot"]  # recorded once
    key = page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('kefu.key:'))")
    assert key and server.services.repo.get_conversation(session_id).access_key_hash
    # a reload reads the conversation back: the polls carry its key (without it they would get a 404)
    page.reload()
    page.click(".kefu-launcher")
    expect(log.locator(".kefu-customer .kefu-bubble")).to_have_text("where is my order")
