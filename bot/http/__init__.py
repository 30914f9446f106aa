"""The HTTP side: routes, webhook authentication, access log."""
