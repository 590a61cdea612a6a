"""Fetch Keycloak and oidc-provider into the test bed's cache unless they are there."""

from maskinporten_testbed.authservers import keycloak, oidcprovider

keycloak.fetch()
oidcprovider.fetch()
