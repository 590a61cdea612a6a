"""Credentials: client keys, one reader per format people hold them in (JWK, PEM, PKCS#12),
business certificates, and finding them in a Secret's data."""
