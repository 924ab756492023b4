// The OpenID provider `cargo xtask interop` signs the example app in with: oidc-provider
// (https://github.com/panva/node-oidc-provider, OpenID Certified), written independently of
// this SDK. Development settings only: in-memory storage, devInteractions (any login, any
// password), fresh keys on every start, and a listener on 127.0.0.1 and nowhere else.
//
//   node provider.mjs <port>        (or PROVIDER_PORT=<port> node provider.mjs)
//
// Environment (all optional):
//   APP_URL        the app's URL (default http://127.0.0.1:3000); registers
//                  APP_URL/auth/callback and APP_URL/ as the client's redirect URIs
//   CLIENT_ID      default interop-app
//   CLIENT_SECRET  default interop-secret
//   API_AUDIENCE   the resource (RFC 8707) access tokens are issued for, and their `aud`
//                  (default urn:interop:api)
//   ACCESS_TOKEN_TTL  access token lifetime in seconds (default 300)
//   SERVICE_KEY_FILE  when set, a fresh P-256 private key is written there (PKCS#8 PEM) and
//                  a client `interop-service-key` is registered that authenticates with
//                  private_key_jwt (RFC 7523) using it; its JWK's kid is the RFC 7638
//                  thumbprint, computed here, independently of the SDK
//
// Besides the app's client, a service client (`interop-service` / `interop-service-secret`)
// may use the client-credentials grant, for API_AUDIENCE (JWT access tokens) or for
// API_AUDIENCE + ":opaque" (opaque access tokens, which the app introspects).
//
// Prints `READY <issuer>` on stdout once it listens; logs errors to stderr (never tokens).

import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const HOST = '127.0.0.1';
const port = Number.parseInt(process.argv[2] ?? process.env.PROVIDER_PORT ?? '', 10);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error('usage: node provider.mjs <port>');
  process.exit(2);
}
const issuer = `http://${HOST}:${port}`;
const appUrl = (process.env.APP_URL ?? 'http://127.0.0.1:3000').replace(/\/+$/, '');
const clientId = process.env.CLIENT_ID ?? 'interop-app';
const clientSecret = process.env.CLIENT_SECRET ?? 'interop-secret';
const audience = process.env.API_AUDIENCE ?? 'urn:interop:api';
const accessTokenTtl = Number.parseInt(process.env.ACCESS_TOKEN_TTL ?? '', 10) || 300;
const opaqueAudience = `${audience}:opaque`;

// The scopes the SDK asks for by default; the API accepts tokens carrying them.
const API_SCOPE = 'openid profile email offline_access';

// Test users: any login works (devInteractions), these two get names and roles.
const USERS = {
  alice: { name: 'Alice Example', email: 'alice@example.com', roles: ['admin', 'user'] },
  bob: { name: 'Bob Example', email: 'bob@example.com', roles: ['user'] },
};

function profile(sub) {
  const user = USERS[sub] ?? { name: sub, email: `${sub}@example.com`, roles: [] };
  return { sub, ...user, email_verified: true };
}

// A fresh RS256 signing key per run, so no key material lives in the repository.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'interop-rs256', alg: 'RS256', use: 'sig' };

// A client that proves itself with a private key instead of a secret (private_key_jwt).
const keyClients = [];
if (process.env.SERVICE_KEY_FILE) {
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  writeFileSync(process.env.SERVICE_KEY_FILE, pair.privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  const jwk = pair.publicKey.export({ format: 'jwk' });
  // RFC 7638: the required members in lexicographic order, no whitespace.
  const thumbprint = createHash('sha256')
    .update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }))
    .digest('base64url');
  keyClients.push({
    client_id: 'interop-service-key',
    redirect_uris: [],
    response_types: [],
    grant_types: ['client_credentials'],
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_signing_alg: 'ES256',
    jwks: { keys: [{ ...jwk, kid: thumbprint, alg: 'ES256', use: 'sig' }] },
  });
}

const configuration = {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [`${appUrl}/auth/callback`],
      post_logout_redirect_uris: [`${appUrl}/`],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    {
      client_id: 'interop-service',
      client_secret: 'interop-service-secret',
      redirect_uris: [],
      response_types: [],
      grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    ...keyClients,
  ],
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  scopes: ['openid', 'offline_access', 'profile', 'email'],
  claims: {
    openid: ['sub'],
    profile: ['name'],
    email: ['email', 'email_verified'],
  },
  async findAccount(_ctx, sub) {
    return {
      accountId: sub,
      async claims() {
        return profile(sub);
      },
    };
  },
  // The API authorizes by role: put the user's roles into the (JWT) access token.
  async extraTokenClaims(_ctx, token) {
    if (token.kind === 'AccessToken' && token.accountId) {
      return { roles: profile(token.accountId).roles };
    }
    return undefined;
  },
  pkce: { required: () => true },
  // Refresh tokens without `prompt=consent` (OIDC Core §11 lets a provider drop
  // offline_access otherwise), independent of the provider's browser session, and rotated on
  // every use, as a strict provider does.
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  expiresWithSession: async () => false,
  rotateRefreshToken: () => true,
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    // DPoP (RFC 9449): a token request with a DPoP proof gets a token bound to its key.
    dPoP: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // Every request is for the API unless it names another resource (RFC 8707)...
      defaultResource: async () => audience,
      // ...also at the token endpoint, where the SDK sends no `resource` either.
      useGrantedResource: async () => true,
      async getResourceServerInfo(_ctx, resourceIndicator) {
        if (resourceIndicator === opaqueAudience) {
          return { scope: API_SCOPE, audience: opaqueAudience, accessTokenFormat: 'opaque' };
        }
        if (resourceIndicator !== audience) {
          throw new Provider.errors.InvalidTarget();
        }
        return {
          scope: API_SCOPE,
          audience,
          accessTokenFormat: 'jwt', // RFC 9068
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
  ttl: {
    AccessToken: accessTokenTtl,
    AuthorizationCode: 60,
    IdToken: 300,
    Interaction: 600,
    Grant: 3600,
    RefreshToken: 3600,
    Session: 3600,
  },
};

const provider = new Provider(issuer, configuration);

for (const event of [
  'authorization.error',
  'backchannel.error',
  'end_session.error',
  'grant.error',
  'introspection.error',
  'revocation.error',
  'server_error',
]) {
  provider.on(event, (...args) => {
    const error = args.find((a) => a instanceof Error);
    const detail = error ? `${error.name}: ${error.message}${error.error_detail ? ` (${error.error_detail})` : ''}` : '';
    console.error(`provider: ${event} ${detail}`);
  });
}

const server = createServer(provider.callback());
server.listen(port, HOST, () => {
  console.log(`READY ${issuer}`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => process.exit(0));
}
