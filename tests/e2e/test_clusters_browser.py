"""The dashboard in real headless Chromium: the analytics page draws topics per day and sentiment by topic
(a single day's too) and links a group of unanswered questions that look alike to its card in the review
queue, where an agent accepts it as a new intent; the questions leave the queue and are stored as the
intent's examples. A review is labelled only with an intent the reviewer chose."""

import io

import numpy as np
import pytest

from tests.support.server import ADMIN_PASSWORD, RunningServer

MARKUP = "<img src=x> gift card <b>now</b>"  # shown as the text it is, never as HTML
GIFT_CARD = [
    "can I buy a gift card",
    "gift card for my mother",
    "gift card online?",
    "price of a gift card",
    MARKUP,
]
INVOICE = [
    "I need an invoice",
    "send me an invoice please",
    "invoice for my purchase",
    "can I get a VAT invoice",
]

@pytest.fixture()
def page(server: RunningServer, browser):
    return browser.new_page(viewport={"width": 1280, "height": 900})


def seed(server: RunningServer) -> dict[str, list[int]]:
    """Answered messages with topics and sentiment, and unanswered ones queued for review as the bot
    queues them (the customer's turn, reason fallback or oos): two groups that look alike."""
    repo = server.services.repo
    session = repo.get_or_create_conversation(None).session_id
    for intent, sentiment, score in [
        ("order_status", "neutral", 0.1),
        ("order_status", "negative", -0.7),
        ("greet", "positive", 0.9),
    ]:
        repo.add_turn(session, "customer", "words", intent=intent, sentiment=sentiment, sentiment_score=score)
        repo.add_turn(session, "bot", "answer", decision="reply")
    groups: dict[str, list[int]] = {"gift": [], "invoice": []}
    for group, texts in (("gift", GIFT_CARD), ("invoice", INVOICE)):
        for i, text in enumerate(texts):
            session = repo.get_or_create_conversation(None).session_id
            turn = repo.add_turn(
                session, "customer", text, intent="out_of_scope", review="fallback" if i % 2 else "oos"
            )
            repo.add_turn(session, "bot", "Sorry, I didn't understand that.", decision="fallback")
            groups[group].append(turn.id)
    return groups


def signed_in(server: RunningServer, page) -> list[str]:
    """``page`` signed in to the dashboard as the admin; the list collects its script errors and
    anything its Content-Security-Policy refused."""
    from playwright.sync_api import expect

    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(server.url + "/admin")
    page.fill("#login-username", "admin")
    page.fill("#login-password", ADMIN_PASSWORD)
    page.click("#login-form button[type=submit]")
    expect(page.locator("#who")).to_have_text("admin (admin)")
    return errors


def test_a_group_of_unanswered_questions_becomes_an_intent(server: RunningServer, page) -> None:
    from playwright.sync_api import expect

    groups = seed(server)
    errors = signed_in(server, page)

    # analytics: topics per day, sentiment by topic, and the groups found
    page.click("#tabs button[data-tab=analytics]")
    expect(page.locator("#chart-topics .legend")).to_contain_text("out_of_scope")
    expect(page.locator("#chart-topics svg rect")).not_to_have_count(0)
    moods = page.locator("#chart-topic-sentiment svg rect")
    expect(moods).to_have_count(3)  # order_status: neutral and negative; greet: positive
    expect(page.locator("#chart-topic-sentiment svg")).to_contain_text("order_status")
    links = page.locator("#analytics-clusters .cluster-links a")
    expect(links).to_have_count(2)
    gift_link = links.filter(has_text="gift")
    expect(gift_link).to_have_count(1)
    name = gift_link.inner_text()

    # the link opens the review queue at that group's card
    gift_link.click()
    expect(page.locator("#tab-reviews")).to_be_visible()
    expect(page.locator("#review-rows tr")).to_have_count(9)
    cards = page.locator("#cluster-cards .cluster")
    expect(cards).to_have_count(2)
    card = page.locator(f"#cluster-cards .cluster.focus[data-name='{name}']")
    expect(card.locator(".cluster-title")).to_contain_text("These 5 unanswered questions look alike (terms: ")
    expect(card.locator(".cluster-title")).to_contain_text("make them an intent?")
    expect(card.locator(".examples li")).to_have_count(5)
    expect(card.locator(".examples")).to_contain_text(MARKUP)  # the markup is text
    expect(card.locator(".examples img, .examples b")).to_have_count(0)
    expect(card.locator(".cluster-intent")).to_have_value(name)  # the suggested name, editable

    card.locator(".cluster-intent").fill("gift_card")
    expect(card.locator(".meta")).to_contain_text("a new intent")
    card.locator("button.accept").click()
    expect(cards).to_have_count(1)
    expect(page.locator("#clusters-status")).to_contain_text("5 questions labelled gift_card, a new intent")
    expect(page.locator("#review-rows tr")).to_have_count(4)
    rows = page.locator("#review-rows tr")
    assert sorted(int(rows.nth(i).get_attribute("data-turn")) for i in range(4)) == sorted(groups["invoice"])

    labelled = server.services.repo.review_queue("labelled")
    assert sorted((r.turn_id, r.corrected_intent) for r in labelled) == [
        (i, "gift_card") for i in groups["gift"]
    ]
    assert {r.text for r in labelled} == set(GIFT_CARD)
    # an invalid name gets the server's one-line answer on the card
    other = cards.first
    other.locator(".cluster-intent").fill("not a name!")
    other.locator("button.accept").click()
    expect(other.locator(".error")).to_contain_text("invalid intent name")
    assert len(server.services.repo.review_queue("labelled")) == 5
    assert errors == []


def test_the_reviewer_chooses_the_intent_the_model_guess_is_no_default(server: RunningServer, page) -> None:
    """A quick Save must not teach the model its own guess: nothing is chosen until the reviewer picks,
    out_of_scope first (what most unanswered questions are), then the intents."""
    from playwright.sync_api import expect

    repo = server.services.repo
    session = repo.get_or_create_conversation(None).session_id
    turn = repo.add_turn(
        session, "customer", "do you sell gift cards", intent="greet", confidence=0.41, review="low_confidence"
    )
    errors = signed_in(server, page)
    page.click("#tabs button[data-tab=reviews]")
    row = page.locator(f"#review-rows tr[data-turn='{turn.id}']")
    choice = row.get_by_label("correct intent")
    expect(choice).to_have_value("")
    expect(row.locator("button.save")).to_be_disabled()
    options = choice.locator("option:not([disabled])")
    expect(options.first).to_have_text("out_of_scope")
    assert sorted(options.all_inner_texts()) == sorted(set(server.services.bot.intents) | {"out_of_scope"})

    choice.select_option("order_status")
    row.locator("button.save").click()
    expect(row).to_have_count(0)
    assert [(r.turn_id, r.corrected_intent) for r in repo.review_queue("labelled")] == [(turn.id, "order_status")]
    assert errors == []


def test_a_group_sharing_no_term_is_titled_and_named_by_its_question(server: RunningServer, page) -> None:
    """Questions that share no term (“are you there?” asked four ways) get a card that lists no empty
    terms and suggests a name from the question itself, not "cluster"."""
    from playwright.sync_api import expect

    repo = server.services.repo
    for text in ["在吗", "在吗？", "你在吗", "在不在呀", *INVOICE]:
        session = repo.get_or_create_conversation(None).session_id
        repo.add_turn(session, "customer", text, intent="out_of_scope", review="oos")
    errors = signed_in(server, page)
    page.click("#tabs button[data-tab=analytics]")
    link = page.locator("#analytics-clusters .cluster-links li").filter(has_text="在吗")
    expect(link.locator("a")).to_have_text("在吗")
    expect(link).to_have_text("在吗 · 4 questions")
    link.locator("a").click()
    card = page.locator("#cluster-cards .cluster[data-name='在吗']")
    expect(card.locator(".cluster-title")).to_have_text("These 4 unanswered questions look alike; make them an intent?")
    expect(card.locator(".cluster-intent")).to_have_value("在吗")
    invoice = page.locator("#cluster-cards .cluster[data-name='invoice'] .cluster-title")
    expect(invoice).to_contain_text("look alike (terms: invoice); make them an intent?")
    assert errors == []


def test_sentiment_of_a_single_day_is_drawn(server: RunningServer, page) -> None:
    """All the customer messages fell on one day (today): the trend is one point, and it shows."""
    from playwright.sync_api import expect

    repo = server.services.repo
    session = repo.get_or_create_conversation(None).session_id
    for label, score in [("neutral", 0.6), ("negative", 0.9), ("positive", 0.8)]:
        repo.add_turn(session, "customer", "words", intent="greet", sentiment=label, sentiment_score=score)
    errors = signed_in(server, page)
    page.click("#tabs button[data-tab=analytics]")
    chart = page.locator("#chart-sentiment svg")
    expect(chart).to_be_visible()
    chart.scroll_into_view_if_needed()
    purple = _pixels_of(chart.screenshot(), (0x7C, 0x3A, 0xED))  # the trend's colour
    assert purple >= 20, f"{purple} pixels of the trend's colour"
    assert errors == []


def _pixels_of(png: bytes, rgb: tuple[int, int, int]) -> int:
    """How many pixels of ``png`` are within a small distance of ``rgb`` (anti-aliasing blurs edges)."""
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=int)
    return int((np.abs(pixels - np.array(rgb)).sum(axis=-1) < 60).sum())
