from pathlib import Path

import pytest

from kefu.dialogue import Domain, load_domain

DOMAIN_FILE = Path(__file__).with_name("domain.yml")
# what the model and extractors of the fixture bot produce; "goodbye" has no domain entry on purpose
MODEL_INTENTS = ["greet", "order_status", "refund", "human_agent", "faq_shipping", "goodbye"]
ENTITY_TYPES = ["order_id", "email"]


@pytest.fixture(scope="session")
def domain() -> Domain:
    return load_domain(DOMAIN_FILE, MODEL_INTENTS, ENTITY_TYPES)
