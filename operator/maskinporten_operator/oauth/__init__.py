"""OAuth 2.0: RFC 7523 grants and client assertions (pure), and the authorization-server client."""
