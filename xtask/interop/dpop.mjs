// DPoP (RFC 9449) and protected-resource metadata (RFC 9728) across three independent parts:
// oidc-provider issues a DPoP-bound access token (client credentials) to panva's openid-client,
// which calls the example app with it; the app, built on this SDK, checks the proof.
//
//   node dpop.mjs ISSUER_URL APP_URL RESOURCE
//
// Prints one `ok: ...` line per step; exits 1 at the first failure.
import * as client from 'openid-client';

const [issuerArg, appArg, resource] = process.argv.slice(2);
const issuer = new URL(issuerArg ?? '');
const app = (appArg ?? '').replace(/\/+$/, '');
const insecure = { execute: [client.allowInsecureRequests] };

function ok(what) {
  console.log(`ok: ${what}`);
}

function expect(condition, what) {
  if (!condition) throw new Error(what);
}

function challenge(response) {
  return response.headers.get('www-authenticate') ?? '';
}

try {
  // RFC 9728: the app's 401 names its metadata, which names the provider.
  const first = await fetch(`${app}/api/me`);
  expect(first.status === 401, `GET /api/me without a token: ${first.status}`);
  const pointer = /resource_metadata="([^"]+)"/.exec(challenge(first))?.[1];
  expect(pointer, `no resource_metadata in ${challenge(first)}`);
  expect(/DPoP algs="[^"]*ES256/.test(challenge(first)), `no DPoP challenge: ${challenge(first)}`);
  const metadata = await (await fetch(pointer)).json();
  expect(metadata.resource === app, `resource ${metadata.resource} is not ${app}`);
  expect(
    metadata.authorization_servers?.includes(issuer.href.replace(/\/$/, '')),
    `authorization_servers ${JSON.stringify(metadata.authorization_servers)}`,
  );
  expect(metadata.dpop_signing_alg_values_supported?.includes('ES256'), 'no DPoP algorithms');
  ok('the 401 names the RFC 9728 metadata, which names the provider and the DPoP algorithms');

  const config = await client.discovery(issuer, 'interop-service', 'interop-service-secret', undefined, insecure);
  const keyPair = await client.randomDPoPKeyPair('ES256');
  const dpop = client.getDPoPHandle(config, keyPair);
  const tokens = await client.clientCredentialsGrant(config, { resource }, { DPoP: dpop });
  expect(tokens.token_type?.toLowerCase() === 'dpop', `token_type ${tokens.token_type}`);
  ok('oidc-provider issues a DPoP-bound token to openid-client');

  const url = new URL(`${app}/api/me`);
  const response = await client.fetchProtectedResource(config, tokens.access_token, url, 'GET', undefined, undefined, { DPoP: dpop });
  expect(response.status === 200, `GET /api/me with DPoP: ${response.status} ${challenge(response)}`);
  // The app asks for its nonces (AUTH_DPOP_NONCE=1): openid-client followed use_dpop_nonce.
  expect(response.headers.get('dpop-nonce'), 'no DPoP-Nonce on the answer');
  const me = await response.json();
  expect(me.claims?.cnf?.jkt, 'the token has no cnf.jkt');
  ok(`openid-client's DPoP request reaches GET /api/me (client_id ${me.claims.client_id})`);

  const asBearer = await fetch(url, { headers: { authorization: `Bearer ${tokens.access_token}` } });
  expect(asBearer.status === 401, `the bound token as Bearer: ${asBearer.status}`);
  expect(challenge(asBearer).includes('invalid_token'), challenge(asBearer));
  ok('the same token sent as Bearer is refused (invalid_token)');

  const unbound = await client.clientCredentialsGrant(config, { resource });
  expect(unbound.token_type?.toLowerCase() === 'bearer', `token_type ${unbound.token_type}`);
  const wrongScheme = await fetch(url, { headers: { authorization: `DPoP ${unbound.access_token}` } });
  expect(wrongScheme.status === 401, `an unbound token with the DPoP scheme: ${wrongScheme.status}`);
  ok('an unbound token sent with the DPoP scheme is refused');
} catch (e) {
  console.error(`dpop.mjs: ${e?.message ?? e}`);
  process.exit(1);
}
