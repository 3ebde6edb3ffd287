// A real OpenID Connect provider for hrflow's sign-in tests: panva's oidc-provider (certified),
// configured from the environment by tests/idp/__init__.py. Its development login form takes any
// login (the password is not checked); the claims of a login come from IDP_ACCOUNTS.
import Provider from 'oidc-provider';

const port = Number(process.env.IDP_PORT);
const issuer = `http://127.0.0.1:${port}`;
const accounts = JSON.parse(process.env.IDP_ACCOUNTS || '{}');
const clients = JSON.parse(process.env.IDP_CLIENTS);

const provider = new Provider(issuer, {
  clients,
  pkce: { required: () => true },
  scopes: ['openid', 'profile', 'email'],
  claims: { openid: ['sub'], profile: ['name', 'preferred_username'], email: ['email', 'email_verified'] },
  conformIdTokenClaims: false, // the ID token carries the scope's claims, as Keycloak's does
  ttl: { IdToken: Number(process.env.IDP_ID_TOKEN_TTL || 3600), AuthorizationCode: 60 },
  cookies: { keys: ['hrflow-test-idp-cookie-key'] },
  async findAccount(ctx, id) {
    const claims = accounts[id] || {};
    return { accountId: id, async claims() { return { sub: id, ...claims }; } };
  },
});
provider.proxy = false;
provider.listen(port, '127.0.0.1', () => console.log(`listening ${issuer}`));
