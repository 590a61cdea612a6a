// oidc-provider (https://github.com/panva/node-oidc-provider) as a client-credentials server for
// the interop tests. Reads its settings from the JSON file named on the command line:
//   {"port": 8080, "scopes": ["api1"], "clients": [{"client_id": "c", "jwks": {"keys": [...]}}]}
// Every client authenticates with private_key_jwt and may ask for every scope; tokens are JWTs
// for the one API (resource indicator) that defaults for every request.
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const { port, scopes, clients } = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const issuer = `http://127.0.0.1:${port}`;
const api = `${issuer}/api`;

const provider = new Provider(issuer, {
  clients: clients.map(({ client_id, jwks }) => ({
    client_id,
    jwks,
    token_endpoint_auth_method: 'private_key_jwt',
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    scope: scopes.join(' '),
  })),
  scopes,
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => api,
      getResourceServerInfo: () => ({
        scope: scopes.join(' '),
        audience: api,
        accessTokenFormat: 'jwt',
      }),
    },
  },
});

provider.listen(port, '127.0.0.1', () => console.log(`oidc-provider listening at ${issuer}`));
