// An independent, certified relying party — panva's openid-client — against our provider
// (`auth dev-issuer --dcr`): discovery, dynamic registration, the authorization code flow with
// PKCE through the dev login and consent pages, refresh rotation and reuse detection, userinfo,
// revocation and introspection.
//
//   node rp.mjs ISSUER_URL
//
// Prints one `ok: ...` line per step; exits 1 at the first failure.
import * as client from 'openid-client';

const issuer = new URL(process.argv[2] ?? '');
const REDIRECT = 'http://127.0.0.1:9/callback';
const insecure = { execute: [client.allowInsecureRequests] };

function ok(what) {
  console.log(`ok: ${what}`);
}

function fail(what) {
  throw new Error(what);
}

function expect(condition, what) {
  if (!condition) fail(what);
}

/** HTML attribute values as the pages escape them. */
function unescape(text) {
  return text
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&#13;', '\r')
    .replaceAll('&#10;', '\n')
    .replaceAll('&amp;', '&');
}

/** The form with this id: its action and hidden inputs. */
function form(html, id) {
  const start = html.indexOf(`id="${id}"`);
  expect(start >= 0, `the page has a #${id} form: ${html.slice(0, 300)}`);
  const tag = html.slice(html.lastIndexOf('<form', start), html.indexOf('>', start) + 1);
  const action = unescape(/action="([^"]*)"/.exec(tag)[1]);
  const body = html.slice(start, html.indexOf('</form>', start));
  const fields = [];
  for (const match of body.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)) {
    fields.push([unescape(match[1]), unescape(match[2])]);
  }
  return { action: new URL(action, issuer), fields };
}

async function post(url, fields) {
  return fetch(url, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
}

/**
 * Follows an authorization URL through the dev login page (as `user`) and, when shown, the
 * consent page (approving); returns the callback URL.
 */
async function signIn(url, user) {
  let response = await fetch(url, { redirect: 'manual' });
  if (response.status === 200) {
    const login = form(await response.text(), 'login-form');
    response = await post(login.action, [...login.fields, ['user', user]]);
  }
  if (response.status === 200) {
    const page = await response.text();
    const consent = form(page, 'consent-form');
    expect(page.includes('data-scope="openid"'), 'the consent page lists the scopes');
    ok('the consent page asks the user');
    response = await post(consent.action, [...consent.fields, ['consent', 'approve']]);
  }
  expect([302, 303].includes(response.status), `a redirect back, not ${response.status}`);
  const location = new URL(response.headers.get('location'));
  expect(location.href.startsWith(REDIRECT), `back at the redirect URI: ${location}`);
  return location;
}

async function authorize(config, extra) {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT,
    scope: 'openid profile email offline_access',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...extra,
  });
  const callback = await signIn(url, 'alice');
  return client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
}

async function refused(promise, error, what) {
  try {
    await promise;
  } catch (e) {
    // An error body (`e.error`), or a WWW-Authenticate challenge (`e.cause`: the challenges).
    const challenged = Array.isArray(e.cause) && e.cause.some((c) => c.parameters?.error === error);
    expect(e.error === error || challenged, `${what}: ${e.error ?? e.message}`);
    return;
  }
  fail(`${what}: accepted`);
}

async function main() {
  const discovered = await client.discovery(issuer, 'nobody', undefined, undefined, insecure);
  const metadata = discovered.serverMetadata();
  expect(metadata.issuer === issuer.href.replace(/\/$/, ''), 'discovery names the issuer');
  expect(metadata.registration_endpoint, 'discovery advertises registration_endpoint');
  expect(metadata.code_challenge_methods_supported?.includes('S256'), 'S256 advertised');
  ok('discovery');

  const config = await client.dynamicClientRegistration(
    issuer,
    {
      redirect_uris: [REDIRECT],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      client_name: 'openid-client interop',
    },
    // The method registered is the one the provider accepts (it enforces it).
    client.ClientSecretBasic(),
    insecure,
  );
  const registered = config.clientMetadata();
  expect(registered.client_id && registered.client_secret, 'a client id and secret');
  ok(`dynamic registration: client ${registered.client_id}`);

  const tokens = await authorize(config, { prompt: 'consent' });
  const claims = tokens.claims();
  expect(claims.sub === 'alice', `sub alice, not ${claims.sub}`);
  expect(claims.aud === registered.client_id, 'the ID token is for the client');
  expect(typeof claims.auth_time === 'number', 'auth_time');
  expect(tokens.refresh_token, 'a refresh token for offline_access with prompt=consent');
  expect(tokens.token_type.toLowerCase() === 'bearer', 'a Bearer token');
  ok('authorization code + PKCE through the login and consent pages; ID token checked');

  const me = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  expect(me.email === 'alice@example.com' && me.email_verified === true, 'userinfo by scope');
  ok('userinfo');

  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  expect(refreshed.refresh_token && refreshed.refresh_token !== tokens.refresh_token, 'rotated');
  expect(refreshed.claims()?.auth_time === claims.auth_time, 'the refreshed ID token keeps auth_time');
  ok('refresh rotates the refresh token');

  await refused(
    client.refreshTokenGrant(config, tokens.refresh_token),
    'invalid_grant',
    'reusing a rotated refresh token',
  );
  await refused(
    client.refreshTokenGrant(config, refreshed.refresh_token),
    'invalid_grant',
    'the newest refresh token after a reuse',
  );
  ok('reuse of a rotated refresh token revokes the family');

  // Consent is remembered: no consent page, no prompt=consent, so no offline access.
  const again = await authorize(config, {});
  expect(!again.refresh_token, 'no refresh token without prompt=consent');
  const active = await client.tokenIntrospection(config, again.access_token);
  expect(active.active === true && active.sub === 'alice', 'introspection: active');
  await client.tokenRevocation(config, again.access_token);
  const inactive = await client.tokenIntrospection(config, again.access_token);
  expect(inactive.active === false, 'introspection after revocation: inactive');
  await refused(
    client.fetchUserInfo(config, again.access_token, claims.sub),
    'invalid_token',
    'userinfo with a revoked access token',
  );
  ok('consent remembered; revocation and introspection');
}

main().then(
  () => console.log('openid-client: all steps passed'),
  (error) => {
    console.error(`FAILED: ${error.stack ?? error}`);
    process.exit(1);
  },
);
