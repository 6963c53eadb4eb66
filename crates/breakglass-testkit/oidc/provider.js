// The OpenID provider the breakglass tests sign in through: the certified `oidc-provider`
// package on 127.0.0.1, with one confidential client (authorization code flow with PKCE
// required, and the device authorization grant) and a few fixed accounts carrying `email`
// and a `groups` claim. Its sign-in and consent pages are the package's own development
// interactions: any login name is accepted with any password (this is a test fixture, never
// a real identity provider). Started and stopped by breakglass-testkit's `oidc.rs`.
//
// Settings come from the environment:
//   OIDC_PORT           the port to listen on (127.0.0.1 only)
//   OIDC_CLIENT_ID      the client's id
//   OIDC_CLIENT_SECRET  the client's secret
//   OIDC_REDIRECT_URIS  the client's redirect URIs, separated by spaces
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import Provider from 'oidc-provider';

function setting(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`provider.js: ${name} is not set`);
    process.exit(2);
  }
  return value;
}

const port = Number(setting('OIDC_PORT'));
const issuer = `http://127.0.0.1:${port}`;

// The accounts: the login name typed on the sign-in page is the subject (`sub`). A name not
// listed here signs in too, as someone the broker does not know.
const ACCOUNTS = {
  alice: { email: 'alice@example.com', name: 'Alice Analyst', groups: ['responders'] },
  bob: { email: 'bob@example.com', name: 'Bob Lead', groups: ['responders', 'ir-leads'] },
  carol: { email: 'carol@example.com', name: 'Carol Lead', groups: ['ir-leads'] },
  // Known to the broker by email, but in none of the groups the broker gives her.
  erin: { email: 'erin@example.com', name: 'Erin Responder', groups: ['marketing'] },
};

function account(id) {
  const known = ACCOUNTS[id];
  const claims = known ?? { email: `${id}@elsewhere.example`, name: id, groups: [] };
  return {
    accountId: id,
    async claims() {
      return {
        sub: id,
        email: claims.email,
        email_verified: true,
        name: claims.name,
        groups: claims.groups,
      };
    },
  };
}

const signing = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });

const configuration = {
  clients: [
    {
      client_id: setting('OIDC_CLIENT_ID'),
      client_secret: setting('OIDC_CLIENT_SECRET'),
      redirect_uris: setting('OIDC_REDIRECT_URIS').split(' ').filter(Boolean),
      grant_types: ['authorization_code', 'urn:ietf:params:oauth:grant-type:device_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  jwks: { keys: [{ ...signing, kid: 'test-rs256', use: 'sig', alg: 'RS256' }] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  findAccount: async (_ctx, id) => account(id),
  scopes: ['openid', 'email', 'profile', 'groups'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    groups: ['groups'],
  },
  // The claims of the requested scopes go into the ID token itself, as Okta, Entra ID and
  // Keycloak put them there: the broker reads the ID token only, never the userinfo endpoint.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
    deviceFlow: { enabled: true },
  },
};

const provider = new Provider(issuer, configuration);
// The package's own pages import a web font from the internet; tests reach nothing but this
// machine, so a browser driven through them must not even try.
provider.use(async (ctx, next) => {
  await next();
  if (typeof ctx.body === 'string') {
    ctx.body = ctx.body.replace(/@import url\(https?:[^)]*\);?/g, '');
  }
});
// The development interactions warn about themselves on every start; keep the log short.
provider.on('server_error', (_ctx, err) => console.error('server_error', err));
provider.listen(port, '127.0.0.1', () => {
  console.log(`ready ${issuer}`);
});
