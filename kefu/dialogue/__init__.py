"""The dialogue layer: the domain file, conversation state, language detection and the turn policy.

Pure Python; the server calls :func:`decide` once per customer message and stores the returned state.
"""

from kefu.dialogue.domain import Domain
from kefu.dialogue.domain_file import analyse_domain, load_domain, parse_domain, validate_domain
from kefu.dialogue.language import detect_language
from kefu.dialogue.policy import PAYLOAD_PREFIX, Decision, KbHit, NluResult, decide
from kefu.dialogue.state import ConversationState

__all__ = [
    "PAYLOAD_PREFIX",
    "ConversationState",
    "Decision",
    "Domain",
    "KbHit",
    "NluResult",
    "analyse_domain",
    "decide",
    "detect_language",
    "load_domain",
    "parse_domain",
    "validate_domain",
]
