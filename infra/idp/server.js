// The local OpenID Connect provider for development and tests (started by infra/idp.sh).
// panva's oidc-provider (a certified OP) with the people and clients of seed.json, its own login
// page, and POST/DELETE /accounts so the demo can give the customers and engineers it creates a
// sign-in. Production uses the organisation's own provider (Keycloak in docker-compose.yml).
//
// Environment: IDP_PORT (9400), IDP_ISSUER (http://127.0.0.1:$IDP_PORT), IDP_KEYS_FILE
// (<repo>/var/idp/keys.json), IDP_COOKIE_KEYS (comma-separated; random per start if unset).
import {
  createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, timingSafeEqual,
} from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { calculateJwkThumbprint, createLocalJWKSet, jwtVerify } from 'jose';
import Provider, { errors, interactionPolicy } from 'oidc-provider';

// Passwords and client secrets in seed.json are published development values.
if (process.env.ENVIRONMENT === 'production') {
  console.error('idp: refusing to start with ENVIRONMENT=production (a development and test provider only)');
  process.exit(1);
}

const HERE = dirname(fileURLToPath(import.meta.url));
const seed = JSON.parse(readFileSync(resolve(HERE, 'seed.json'), 'utf8'));
const PORT = Number(process.env.IDP_PORT || 9400);
const ISSUER = process.env.IDP_ISSUER || `http://127.0.0.1:${PORT}`;
const KEYS_FILE = process.env.IDP_KEYS_FILE || resolve(HERE, '../../var/idp/keys.json');
const AUDIENCE = seed.audience;
// Resource indicators must be absolute URIs (RFC 8707); the tokens' `aud` is the plain audience.
const RESOURCE = `urn:${AUDIENCE}`;
const ACCESS_TOKEN_TTL = 900;
const REGISTRABLE_ROLES = new Set(['engineer', 'customer']);
const clients = new Map(seed.clients.map((client) => [client.client_id, client]));

// --- Signing keys: our own, kept in var/ so that tokens (and the services' cached JWKS) survive restarts.

async function signingKeys(file) {
  try {
    return JSON.parse(readFileSync(file, 'utf8')).keys;
  } catch (error) {
    if (error.code !== 'ENOENT') throw error;
  }
  const generated = [
    { ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }), alg: 'RS256' },
    { ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }), alg: 'ES256' },
  ];
  // kid: the key's RFC 7638 thumbprint.
  const keys = await Promise.all(generated.map(async (jwk) => ({ ...jwk, use: 'sig', kid: await calculateJwkThumbprint(jwk) })));
  mkdirSync(dirname(file), { recursive: true });
  // 'wx': never overwrite keys another start wrote meanwhile; 0600: private keys.
  writeFileSync(file, `${JSON.stringify({ keys }, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  return keys;
}

const keys = await signingKeys(KEYS_FILE);
console.log('idp: signing keys ready, starting the provider');
for (const alg of ['RS256', 'ES256']) {
  if (!keys.some((key) => key.alg === alg && key.kid)) throw new Error(`${KEYS_FILE}: no ${alg} key with a kid`);
}
const publicKeys = createLocalJWKSet({
  keys: keys.map(({ kid, alg, use, ...jwk }) => ({
    ...createPublicKey(createPrivateKey({ key: jwk, format: 'jwk' })).export({ format: 'jwk' }), kid, alg, use,
  })),
});

// --- Accounts: the seed's people plus those registered since this start (in memory only, like the
// provider's default in-memory adapter for sessions, grants and tokens: a restart forgets them).

const digest = (text) => createHash('sha256').update(String(text)).digest();
const accounts = new Map(); // username -> { username, subject, name, email, roles, password (sha256), seeded }
for (const person of seed.people) {
  accounts.set(person.username, { ...person, password: digest(seed.local_password), seeded: true });
}
const bySubject = (subject) => [...accounts.values()].find((account) => account.subject === subject);

function checkPassword(username, password) {
  const account = accounts.get(username);
  // Compare digests in constant time, and spend the same effort for unknown usernames.
  const same = timingSafeEqual(digest(password), account ? account.password : digest(randomBytes(16)));
  return same && account ? account : undefined;
}

// The account id, and so `sub`, is the person's subject (staff, engineer or customer id).
async function findAccount(_ctx, subject) {
  const account = bySubject(subject);
  if (!account) return undefined;
  return {
    accountId: account.subject,
    claims: async () => ({
      sub: account.subject,
      name: account.name,
      preferred_username: account.username,
      email: account.email,
      email_verified: Boolean(account.email),
      roles: account.roles,
    }),
  };
}

// The library treats a session whose account has gone (DELETE /accounts) as signed in, and then fails
// on the missing account; ask for a login instead.
const policy = interactionPolicy.base();
policy.get('login').checks.add(new interactionPolicy.Check(
  'account_removed',
  'the signed-in account no longer exists',
  (ctx) => Boolean(ctx.oidc.session.accountId && !ctx.oidc.account),
));

// --- Pages: escaped, tiny, no scripts.

const escapeHtml = (value) => String(value ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body{font:1rem/1.5 system-ui,sans-serif;color:#1a1a1a;background:#f4f5f7;margin:0;padding:2rem 1rem}
main{max-width:22rem;margin:0 auto;background:#fff;border:1px solid #d8dbe0;border-radius:8px;padding:1.5rem}
h1{font-size:1.5rem;line-height:1.25;margin:0 0 .25rem}main>p{margin:0 0 1.25rem;color:#4a4f57}
label,input,button{display:block;width:100%;box-sizing:border-box;font:inherit}label{font-weight:600}
input{margin:.25rem 0 1rem;padding:.5rem .625rem;border:1px solid #8a9099;border-radius:4px}
input[aria-invalid=true]{border-color:#b00020}
button{padding:.625rem;margin-top:.5rem;border:1px solid #1d4ed8;border-radius:4px;background:#1d4ed8;color:#fff;cursor:pointer}
button+button{background:#fff;color:#1d4ed8}
input:focus-visible,button:focus-visible{outline:3px solid #93b4f5;outline-offset:1px}
.error{color:#b00020;margin:-.5rem 0 1rem}@media (min-width:40rem){body{padding-top:5rem}}
</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}

function loginPage(uid, clientId, username = '', failed = false) {
  return page('Sign in - Compressor Service', `<h1>Sign in to Compressor Service</h1>
<p>to continue to the ${escapeHtml(clientId)}</p>
<form id="login" method="post" action="/interaction/${escapeHtml(uid)}/login">
<label for="username">Username</label>
<input id="username" name="username" type="text" autocomplete="username" required value="${escapeHtml(username)}"${username ? '' : ' autofocus'}>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required${failed ? ' aria-invalid="true" aria-describedby="login-error" autofocus' : ''}>
${failed ? '<p id="login-error" class="error" role="alert">Wrong username or password.</p>\n' : ''}<button type="submit">Sign in</button>
</form>`);
}

// The end_session_endpoint's confirmation: `form` is the library's <form id="op.logoutForm"> with its
// xsrf field; the buttons submit it, and logout=yes ends the whole session at the provider.
async function logoutSource(ctx, form) {
  ctx.body = page('Sign out - Compressor Service', `<h1>Sign out of Compressor Service?</h1>
${form}
<button type="submit" form="op.logoutForm" name="logout" value="yes" autofocus>Yes, sign me out</button>
<button type="submit" form="op.logoutForm">No, stay signed in</button>`);
}

async function postLogoutSuccessSource(ctx) {
  ctx.body = page('Signed out - Compressor Service', '<h1>You are signed out of Compressor Service.</h1>');
}

async function renderError(ctx, out) {
  ctx.type = 'html';
  ctx.body = page('Error - Compressor Service', `<h1>Sign-in error</h1>
<p>${escapeHtml(out.error)}: ${escapeHtml(out.error_description)}</p>`);
}

// --- The provider.

const provider = new Provider(ISSUER, {
  clients: seed.clients.map((client) => {
    const codeFlow = client.grant_types.includes('authorization_code');
    return {
      client_id: client.client_id,
      client_secret: seed.local_client_secret,
      // Registered as client_secret_basic; oidc-provider accepts client_secret_post for it as well.
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: client.grant_types,
      response_types: codeFlow ? ['code'] : [],
      redirect_uris: client.redirect_uris ?? [],
      post_logout_redirect_uris: client.post_logout_redirect_uris ?? [],
    };
  }),
  // The code flow only (no implicit or hybrid), and client secrets only.
  responseTypes: ['code'],
  clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
  findAccount,
  // Sessions, grants and tokens live in the library's in-memory adapter (it warns about that at
  // start): fine for a local and test provider; a restart signs everyone out.
  jwks: { keys },
  cookies: { keys: process.env.IDP_COOKIE_KEYS?.split(',') ?? [randomBytes(32).toString('base64url')] },
  // No offline_access: every refresh token is bound to the sign-in session (expiresWithSession), so
  // signing out at the end_session_endpoint ends the console's refresh tokens too.
  scopes: ['openid'],
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username', 'roles'],
    email: ['email', 'email_verified'],
  },
  // The library's default issues refresh tokens only with offline_access.
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  pkce: { required: () => true }, // S256 is the only method oidc-provider 9 supports
  interactions: { policy, url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    revocation: { enabled: true },
    // The userinfo endpoint would refuse every access token issued here (they are all for the API);
    // disabled, the name, email and roles the scopes ask for go into the id token instead.
    userinfo: { enabled: false },
    rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
    // Every access token is a JWT for the one API audience, whether or not a `resource` was asked
    // for: the default resource at the authorization and token endpoints, and the granted one at
    // code and refresh token exchanges (instead of a token for the userinfo endpoint).
    resourceIndicators: {
      enabled: true,
      defaultResource: async (_ctx, _client, oneOf) => (oneOf ? oneOf[0] : RESOURCE),
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, indicator, client) => {
        if (indicator !== RESOURCE) throw new errors.InvalidTarget();
        return {
          scope: '',
          audience: AUDIENCE,
          accessTokenFormat: 'jwt',
          accessTokenTTL: ACCESS_TOKEN_TTL,
          // The seed picks the algorithm per client (RS256 for the console, ES256 for machines), so
          // the services meet both in real tokens.
          jwt: { sign: { alg: clients.get(client.clientId).access_token_alg } },
        };
      },
    },
  },
  // The library already sets iss, aud, sub (the account, or the client_id for client credentials),
  // iat, exp, jti and client_id; these add what the services authorise with.
  extraTokenClaims: async (_ctx, token) => {
    if (token.accountId) {
      const account = bySubject(token.accountId);
      return account ? { roles: account.roles, name: account.name } : undefined;
    }
    return { roles: clients.get(token.clientId)?.roles ?? [] };
  },
  // No browser calls the token endpoints across origins: the console exchanges codes server-side.
  clientBasedCORS: () => false,
  ttl: {
    AccessToken: ACCESS_TOKEN_TTL,
    ClientCredentials: ACCESS_TOKEN_TTL,
    AuthorizationCode: 60,
    IdToken: 3600,
    Interaction: 600,
    RefreshToken: 12 * 3600,
    Session: 12 * 3600,
    Grant: 12 * 3600,
  },
  renderError,
});
provider.on('server_error', (_ctx, error) => console.error('idp: server error', error));

// --- Our routes: the login step and account registration; everything else is the provider's.

class HttpError extends Error {
  constructor(status, message, headers = {}) {
    super(message);
    this.status = status;
    this.headers = headers;
  }
}

async function readBody(req, limit = 16 * 1024) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > limit) throw new HttpError(413, 'request body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function send(res, status, body, type = 'text/html; charset=utf-8', headers = {}) {
  res.writeHead(status, {
    'content-type': type,
    'cache-control': 'no-store',
    // No form-action: the sign-in ends in redirects to the client's own address.
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    ...headers,
  });
  res.end(body);
}

const sendJson = (res, status, body, headers) => send(res, status, body === undefined ? '' : JSON.stringify(body), 'application/json', headers);

// GET /interaction/:uid shows the login form; a consent prompt is answered at once (all clients are
// first-party): the missing scopes, claims and resource scopes are granted, as the library's own
// consent page would on "Continue".
async function showInteraction(req, res, uid) {
  const interaction = await provider.interactionDetails(req, res);
  if (interaction.uid !== uid) throw new errors.SessionNotFound('interaction mismatch');
  const { prompt, params, session, grantId } = interaction;
  if (prompt.name === 'login') return send(res, 200, loginPage(uid, params.client_id));
  if (prompt.name !== 'consent') throw new HttpError(400, `unsupported prompt ${prompt.name}`);
  const grant = (grantId && (await provider.Grant.find(grantId)))
    || new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  const { missingOIDCScope, missingOIDCClaims, missingResourceScopes } = prompt.details;
  if (missingOIDCScope) grant.addOIDCScope(missingOIDCScope.join(' '));
  if (missingOIDCClaims) grant.addOIDCClaims(missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const result = { consent: { grantId: await grant.save() } };
  return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: true });
}

// POST /interaction/:uid/login: a right password finishes the login prompt (303 back to the
// provider); a wrong one shows the form again, the username kept, and finishes nothing.
async function submitLogin(req, res, uid) {
  const interaction = await provider.interactionDetails(req, res);
  if (interaction.uid !== uid) throw new errors.SessionNotFound('interaction mismatch');
  if (interaction.prompt.name !== 'login') throw new HttpError(400, 'this interaction is not a login');
  const form = new URLSearchParams(await readBody(req));
  const username = form.get('username') ?? '';
  const account = checkPassword(username, form.get('password') ?? '');
  if (!account) return send(res, 401, loginPage(uid, interaction.params.client_id, username, true));
  const result = { login: { accountId: account.subject } };
  return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
}

// /accounts: the caller is a machine client with may_register_accounts, by a client credentials
// access token this provider issued (sub == client_id); people's tokens never qualify.
async function registrar(req) {
  const [scheme, token] = (req.headers.authorization ?? '').split(' ');
  if (scheme?.toLowerCase() !== 'bearer' || !token) {
    throw new HttpError(401, 'a bearer access token is required', { 'www-authenticate': 'Bearer' });
  }
  let payload;
  try {
    ({ payload } = await jwtVerify(token, publicKeys, {
      issuer: ISSUER,
      audience: AUDIENCE,
      typ: 'at+jwt',
      algorithms: ['RS256', 'ES256'],
      requiredClaims: ['exp', 'iat', 'sub', 'client_id'],
    }));
  } catch (error) {
    throw new HttpError(401, `invalid access token: ${error.code ?? error.message}`, {
      'www-authenticate': 'Bearer error="invalid_token"',
    });
  }
  const client = clients.get(payload.client_id);
  if (!client?.may_register_accounts || payload.sub !== payload.client_id) {
    throw new HttpError(403, `${payload.client_id} may not register accounts`);
  }
  return client;
}

function accountFrom(body) {
  const text = (value, max) => typeof value === 'string' && value.length > 0 && value.length <= max;
  const { username, password, subject, name, email, roles } = body ?? {};
  const problems = [];
  if (!text(username, 64) || !/^[A-Za-z0-9._@-]+$/.test(username)) problems.push('username: 1-64 of A-Z a-z 0-9 . _ @ -');
  if (!text(password, 256)) problems.push('password: 1-256 characters');
  if (!text(subject, 64)) problems.push('subject: 1-64 characters');
  if (!text(name, 200)) problems.push('name: 1-200 characters');
  if (email !== undefined && email !== null && !text(email, 254)) problems.push('email: a string');
  if (!Array.isArray(roles) || roles.length === 0 || !roles.every((role) => REGISTRABLE_ROLES.has(role))) {
    problems.push(`roles: one or more of ${[...REGISTRABLE_ROLES].join(', ')}`);
  }
  if (problems.length) throw new HttpError(400, problems.join('; '));
  return { username, subject, name, email: email ?? undefined, roles: [...new Set(roles)], password: digest(password), seeded: false };
}

const publicView = ({ username, subject, name, email, roles }) => ({ username, subject, name, email, roles });

async function registerAccount(req, res) {
  await registrar(req);
  let body;
  try {
    body = JSON.parse(await readBody(req));
  } catch (error) {
    throw error instanceof HttpError ? error : new HttpError(400, 'the body must be JSON');
  }
  const account = accountFrom(body);
  const existing = accounts.get(account.username);
  const holder = bySubject(account.subject);
  if (existing?.seeded || holder?.seeded) throw new HttpError(409, 'the seed accounts cannot be changed');
  if (existing && existing.subject !== account.subject) throw new HttpError(409, `username ${account.username} is taken`);
  if (holder && holder.username !== account.username) throw new HttpError(409, `subject ${account.subject} already has an account`);
  // The same username and subject again: the registration is repeated (details updated), not refused.
  accounts.set(account.username, account);
  return sendJson(res, existing ? 200 : 201, publicView(account));
}

async function deleteAccount(req, res, username) {
  await registrar(req);
  const account = accounts.get(username);
  if (!account) throw new HttpError(404, `no account ${username}`);
  if (account.seeded) throw new HttpError(409, 'the seed accounts cannot be removed');
  accounts.delete(username);
  return send(res, 204, '');
}

const routes = [
  ['GET', /^\/interaction\/([\w-]+)$/, showInteraction, 'html'],
  ['POST', /^\/interaction\/([\w-]+)\/login$/, submitLogin, 'html'],
  ['POST', /^\/accounts$/, registerAccount, 'json'],
  ['DELETE', /^\/accounts\/([^/]+)$/, (req, res, name) => deleteAccount(req, res, decodeURIComponent(name)), 'json'],
];

const providerCallback = provider.callback();

const server = createServer(async (req, res) => {
  const { pathname } = new URL(req.url, ISSUER);
  const route = routes.find(([method, pattern]) => method === req.method && pattern.test(pathname));
  if (!route) return providerCallback(req, res);
  const [, pattern, handler, kind] = route;
  try {
    await handler(req, res, ...pathname.match(pattern).slice(1));
  } catch (error) {
    const status = error instanceof errors.SessionNotFound ? 400 : error.status ?? 500;
    if (status === 500) console.error('idp:', error);
    const message = error instanceof errors.SessionNotFound
      ? 'This sign-in has expired or was already used; start again from the application.'
      : status === 500 ? 'internal error' : error.message;
    if (res.headersSent) return res.end();
    if (kind === 'json') return sendJson(res, status, { error: message }, error.headers);
    return send(res, status, page('Sign-in error - Compressor Service', `<h1>Sign-in error</h1>\n<p>${escapeHtml(message)}</p>`));
  }
});

server.on('error', (error) => {
  console.error(`idp: cannot listen on 127.0.0.1:${PORT}: ${error.message}`);
  process.exit(1);
});
server.listen(PORT, '127.0.0.1', () => {
  const kids = keys.map((key) => `${key.alg} ${key.kid}`).join(', ');
  console.log(`idp: issuer ${ISSUER} on 127.0.0.1:${PORT}, signing keys ${kids} (${KEYS_FILE}), ${accounts.size} seed accounts`);
});
