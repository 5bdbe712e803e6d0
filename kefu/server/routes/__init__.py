"""The HTTP routes, one module per area: public chat, operations, and the admin API."""
