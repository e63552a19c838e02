// Better Auth's official JS client through `signIn.social` against a live `sesame serve`,
// for a generic OpenID Connect provider (npm `oauth2-mock-server`, found by discovery) and
// for the built-in GitHub provider pointed at the same fake (plus a local /user/emails).
//
// Usage: node oauth-flow.mjs, run by run.sh's `flow`: it announces `PORTS MOCK_PORT EMAILS_PORT`
// and reads the URL of a Sesame started with SESAME_OIDC_PROVIDERS=mock,
// SESAME_OIDC_MOCK_ISSUER=http://127.0.0.1:MOCK_PORT and GITHUB_* / SESAME_GITHUB_*_URL pointing
// at the mock and at EMAILS_PORT.
import { OAuth2Server } from "oauth2-mock-server";
import { browser as makeBrowser } from "./browser.mjs";
import assert from "node:assert/strict";
import http from "node:http";
import { handshake, listen } from "./ports.mjs";

const email = `oauth-${Date.now()}@example.com`;

const provider = new OAuth2Server();
await provider.issuer.keys.generate("RS256");
provider.service.on("beforeTokenSigning", (token) => {
  Object.assign(token.payload, { email, email_verified: true, name: "OAuth User" });
});
provider.service.on("beforeUserinfo", (res) => {
  // One body that reads as an OIDC profile and as a GitHub user.
  res.body = { sub: "johndoe", email, email_verified: true, name: "OAuth User", id: 4242, login: "octo", avatar_url: "https://img.example/o.png" };
});
await provider.start(0, "127.0.0.1");
const emails = http.createServer((req, res) => {
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify([{ email, primary: true, verified: true }]));
});
const baseURL = await handshake([provider.address().port, await listen(emails)]);

const browser = () => makeBrowser(baseURL);

// The round trip a browser makes: Sesame → provider (which approves at once) → callback.
async function socialRoundTrip(b, providerId, callbackURL) {
  const { data, error } = await b.client.signIn.social({ provider: providerId, callbackURL, disableRedirect: true });
  assert.equal(error, null, JSON.stringify(error));
  assert.equal(data.redirect, false);
  const authorize = await fetch(data.url, { redirect: "manual" });
  const back = authorize.headers.get("location");
  assert.ok(back && back.includes(`/callback/${providerId}?`), `provider redirects to the callback: ${back}`);
  const cb = await b.open(back);
  assert.equal(cb.status, 302);
  return cb.headers.get("location");
}

let step = "";
const check = (name) => {
  step = name;
  console.log(`ok - ${name}`);
};
try {
  const a = browser();
  assert.equal(await socialRoundTrip(a, "mock", "/dashboard"), "/dashboard");
  const s = (await a.client.getSession()).data;
  assert.equal(s.user.email, email);
  assert.equal(s.user.emailVerified, true);
  check("signIn.social with a generic OIDC provider (discovery, id_token, PKCE)");

  const b = browser();
  assert.equal(await socialRoundTrip(b, "github", "/gh"), "/gh");
  assert.equal((await b.client.getSession()).data.user.email, email);
  const accounts = (await b.client.listAccounts()).data;
  assert.deepEqual(accounts.map((x) => x.providerId).sort(), ["github", "mock"]);
  check("signIn.social with built-in GitHub pointed at the fake: same verified email, linked to the same user");

  const gh = accounts.find((x) => x.providerId === "github");
  assert.equal(gh.accountId, "4242");
  const tok = await b.client.getAccessToken({ accountId: gh.id });
  assert.equal(tok.error, null, JSON.stringify(tok.error));
  assert.ok(tok.data.accessToken);
  check("listAccounts and getAccessToken");

  const unknown = await b.client.signIn.social({ provider: "nope", callbackURL: "/x" });
  assert.equal(unknown.error.code, "PROVIDER_NOT_FOUND");
  assert.equal((await b.client.signOut()).data.success, true);
  assert.equal((await b.client.getSession()).data, null);
  check("unknown provider → 404 PROVIDER_NOT_FOUND; signOut");
  console.log("js oauth client: all steps passed");
} catch (err) {
  console.error(`not ok - after step "${step}":`, err);
  process.exitCode = 1;
} finally {
  await provider.stop();
  emails.close();
}
