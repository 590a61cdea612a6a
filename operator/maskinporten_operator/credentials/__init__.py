"""Credentials: client keys, the formats people hold them in, business certificates."""
