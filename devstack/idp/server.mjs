// Local OpenID Connect provider for `make run` and the login tests — a real OP (the npm package
// oidc-provider), never used in production. Accounts come from a JSON file:
//   [{"sub": "...", "email": "...", "password": "...", "name": "...", "roles": ["acme:reviewer"]}]
// Environment: DOS_IDP_PORT, DOS_IDP_ACCOUNTS, DOS_IDP_CLIENT_ID, DOS_IDP_CLIENT_SECRET,
// DOS_IDP_REDIRECT_URIS (comma-separated), DOS_IDP_COOKIE_KEY.
import fs from 'node:fs';
import http from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.env.DOS_IDP_PORT || 9000);
const issuer = `http://127.0.0.1:${port}`;
const accounts = JSON.parse(fs.readFileSync(process.env.DOS_IDP_ACCOUNTS, 'utf8'));
const bySub = new Map(accounts.map((a) => [a.sub, a]));
const byEmail = new Map(accounts.map((a) => [a.email.toLowerCase(), a]));

const provider = new Provider(issuer, {
  clients: [{
    client_id: process.env.DOS_IDP_CLIENT_ID || 'decisionos-dev',
    client_secret: process.env.DOS_IDP_CLIENT_SECRET || 'decisionos-dev-secret',
    redirect_uris: (process.env.DOS_IDP_REDIRECT_URIS || 'http://127.0.0.1:8000/oidc/callback/').split(','),
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_post',
  }],
  async findAccount(ctx, sub) {
    const account = bySub.get(sub);
    if (!account) return undefined;
    return {
      accountId: sub,
      async claims() {
        return { sub, email: account.email, email_verified: true, name: account.name, dos_roles: account.roles || [] };
      },
    };
  },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'], dos: ['dos_roles'] },
  scopes: ['openid', 'email', 'profile', 'dos'],
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  cookies: { keys: [process.env.DOS_IDP_COOKIE_KEY || 'decisionos-dev-idp-cookie-key'] },
  pkce: { required: () => false },
  conformIdTokenClaims: false,
  ttl: { AccessToken: 600, AuthorizationCode: 120, IdToken: 600, Interaction: 600, Session: 3600, Grant: 3600 },
});

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function loginPage(uid, error = '', email = '') {
  return `<!doctype html><html lang="ko"><head><meta charset="utf-8"><title>DecisionOS dev sign-in</title>
<style>body{font-family:system-ui,sans-serif;background:#eef1f4}main{max-width:380px;margin:10vh auto;background:#fff;
padding:2em;border-radius:10px}label{display:block;margin-top:1em}input{width:100%;padding:.5em;font-size:1em;box-sizing:border-box}
button{margin-top:1.5em;padding:.7em 1.5em}.error{color:#b00}</style></head><body><main>
<h1>Sign in</h1><p>Local development identity provider</p>
<form method="post" action="/interaction/${escape(uid)}/login" autocomplete="off">
<label for="email">E-mail</label><input id="email" name="email" type="email" value="${escape(email)}" required autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" required>
<button type="submit" id="sign-in">Sign in</button></form>
${error ? `<p class="error" role="alert">${escape(error)}</p>` : ''}</main></body></html>`;
}

function readForm(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.on('data', (chunk) => { body += chunk; if (body.length > 10000) reject(new Error('body too large')); });
    req.on('end', () => resolve(Object.fromEntries(new URLSearchParams(body))));
    req.on('error', reject);
  });
}

function passwordMatches(account, given) {
  const a = Buffer.from(String(account?.password || ''));
  const b = Buffer.from(String(given || ''));
  return account && a.length === b.length && timingSafeEqual(a, b);
}

async function interaction(req, res, uid, isLogin) {
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name === 'login') {
    if (!isLogin || req.method !== 'POST') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      return res.end(loginPage(uid));
    }
    const form = await readForm(req);
    const account = byEmail.get(String(form.email || '').toLowerCase());
    if (!passwordMatches(account, form.password)) {
      res.writeHead(401, { 'content-type': 'text/html; charset=utf-8' });
      return res.end(loginPage(uid, 'Wrong e-mail or password.', form.email));
    }
    return provider.interactionFinished(req, res, { login: { accountId: account.sub } }, { mergeWithLastSubmission: false });
  }
  // Consent: first-party client, granted automatically for the requested scopes and claims.
  const { missingOIDCScope = [], missingOIDCClaims = [] } = details.prompt.details;
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
  if (missingOIDCScope.length) grant.addOIDCScope(missingOIDCScope.join(' '));
  if (missingOIDCClaims.length) grant.addOIDCClaims(missingOIDCClaims);
  const grantId = await grant.save();
  return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

const callback = provider.callback();
const server = http.createServer(async (req, res) => {
  const match = new URL(req.url, issuer).pathname.match(/^\/interaction\/([^/]+)(\/login)?$/);
  if (!match) return callback(req, res);
  try {
    await interaction(req, res, match[1], Boolean(match[2]));
  } catch (err) {
    res.writeHead(400, { 'content-type': 'text/plain' });
    res.end(`interaction failed: ${err.message}`);
  }
});

server.listen(port, '127.0.0.1', () => console.log(`dev IdP ready at ${issuer}`));
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.close(() => process.exit(0)));
