"""The big picture of many texts: topics and sentiment of a file (``kefu analyze``) and new intents found
among messages the bot could not place (``kefu discover``)."""
