// Better Auth's official client through a real TLS reverse proxy (nginx or Caddy, with the
// configuration shipped in deploy/) in front of Sesame under a path prefix:
// https://127.0.0.1:PORT/auth/api/auth. Checks the __Secure- cookies, the client's address
// taken from X-Forwarded-For (session.ipAddress and rate-limit buckets, with
// SESAME_TRUSTED_PROXIES naming the proxy) and the OAuth callback URL under the prefix.
//
// Clients connect from other loopback addresses (127.0.0.2, 127.0.0.3) than the proxy's
// (127.0.0.1), so the address Sesame records can only have come from the proxy's header.
//
// usage: node proxy-flow.mjs BASE_URL CA_FILE   (BASE_URL ends in /auth/api/auth)
import https from "node:https";
import fs from "node:fs";
import assert from "node:assert/strict";
import { browser } from "./browser.mjs";

const [baseURL, caFile] = process.argv.slice(2);
const ca = fs.readFileSync(caFile);

// A fetch over node:https from `localAddress`, trusting the test CA, following no redirects.
function fetchFrom(localAddress, extraHeaders = {}) {
  return (input, init = {}) =>
    new Promise((resolve, reject) => {
      const url = new URL(typeof input === "string" || input instanceof URL ? input : input.url);
      const headers = { ...Object.fromEntries(new Headers(init.headers || {})), ...extraHeaders };
      const req = https.request(url, { method: init.method || "GET", headers, localAddress, ca }, (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => {
          const h = new Headers();
          for (let i = 0; i < res.rawHeaders.length; i += 2) h.append(res.rawHeaders[i], res.rawHeaders[i + 1]);
          const body = [204, 304].includes(res.statusCode) ? null : Buffer.concat(chunks);
          resolve(new Response(body, { status: res.statusCode, headers: h }));
        });
      });
      req.on("error", reject);
      if (init.body) req.write(init.body);
      req.end();
    });
}

const email = `proxy-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;
const password = "correct-horse-battery";
const lastSetCookies = [];
const watch = (f) => async (input, init) => {
  const res = await f(input, init);
  lastSetCookies.splice(0, lastSetCookies.length, ...res.headers.getSetCookie());
  return res;
};

// A client at 127.0.0.2 that also forges an X-Forwarded-For entry: the proxy appends the
// real address (nginx) or replaces the header (Caddy), and Sesame reads from the right.
const a = browser(baseURL, [], { fetchImpl: watch(fetchFrom("127.0.0.2", { "x-forwarded-for": "6.6.6.6" })) });
const up = await a.client.signUp.email({ name: "Proxy", email, password });
assert.equal(up.error, null, JSON.stringify(up.error));
const session = lastSetCookies.find((c) => c.startsWith("__Secure-better-auth.session_token="));
assert.ok(session, `a __Secure- session cookie: ${lastSetCookies}`);
assert.match(session, /; Secure/);
assert.match(session, /; HttpOnly/);
assert.match(session, /; Path=\//);

const s = await a.client.getSession();
assert.equal(s.error, null, JSON.stringify(s.error));
assert.equal(s.data.user.email, email);
assert.equal(s.data.session.ipAddress, "127.0.0.2", "the client's address, from the proxy's X-Forwarded-For");

// Rate-limit buckets are per client behind the proxy: sign-in allows 3 per 10 s.
const signIn = (client) => client.client.signIn.email({ email, password });
const b = browser(baseURL, [], { fetchImpl: fetchFrom("127.0.0.2") });
const statuses = [];
for (let i = 0; i < 4; i++) {
  const r = await signIn(b);
  statuses.push(r.error ? r.error.status : 200);
}
assert.deepEqual(statuses.slice(0, 3), [200, 200, 200], JSON.stringify(statuses));
assert.equal(statuses[3], 429, JSON.stringify(statuses));
const c = browser(baseURL, [], { fetchImpl: fetchFrom("127.0.0.3") });
const other = await signIn(c);
assert.equal(other.error, null, "another client behind the same proxy has its own bucket");
const cs = await c.client.getSession();
assert.equal(cs.data.session.ipAddress, "127.0.0.3");

// Social sign-in: the callback URL the provider is sent is under the prefix, on https.
const social = await c.client.signIn.social({ provider: "github", callbackURL: "/dashboard", disableRedirect: true });
assert.equal(social.error, null, JSON.stringify(social.error));
const authorize = new URL(social.data.url);
assert.equal(authorize.searchParams.get("redirect_uri"), `${baseURL}/callback/github`);
const d = browser(baseURL, [], { fetchImpl: watch(fetchFrom("127.0.0.3")) });
await d.client.signIn.social({ provider: "github", callbackURL: "/dashboard", disableRedirect: true });
assert.ok(
  lastSetCookies.some((l) => l.startsWith("__Secure-better-auth.state=") && /; Secure/.test(l)),
  `a __Secure- state cookie: ${lastSetCookies}`,
);

const out = await a.client.signOut();
assert.equal(out.data?.success, true);
assert.equal((await a.client.getSession()).data, null);
console.log(`proxy flow: ok (${baseURL})`);
