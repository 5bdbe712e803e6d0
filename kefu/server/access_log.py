"""uvicorn's access log without query strings: a URL's query may hold what a customer or an agent typed
(a search for a phone number, an e-mail address), and log lines must not.

kefu's own API takes such text in request bodies; this covers any URL anyone sends. The filter sits on
the ``uvicorn.access`` logger itself, so every handler gets the cut line (uvicorn's log configuration
replaces the logger's handlers, not its filters).
"""

import logging

ACCESS_LOGGER = "uvicorn.access"


class NoQueryString(logging.Filter):
    """Cuts ``?...`` from the request target of an access log record: ``GET /x?q=secret`` logs ``GET /x``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_path_only(arg) for arg in record.args)
        return True


def _path_only(arg: object) -> object:
    if isinstance(arg, str) and arg.startswith("/"):
        return arg.split("?", 1)[0]
    return arg


def drop_query_strings() -> None:
    """Install :class:`NoQueryString` on uvicorn's access logger, once however often it is called."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(existing, NoQueryString) for existing in logger.filters):
        logger.addFilter(NoQueryString())
