// A real browser on another origin: headless Chromium loads a page from a second origin (a
// web app, as a React app on localhost:5173 would be) that uses Better Auth's official client,
// bundled for the browser, against Sesame: sign-up, sign-in (the client fetches with
// credentials: "include", so the session cookie rides along), get-session, sign-out. A page on
// an untrusted origin of the same site is blocked by the browser: the preflight is refused and
// a credentialed GET's answer cannot be read.
//
// usage: node cors-browser.mjs, run by run.sh's `flow`: it announces `PORTS TRUSTED UNTRUSTED`
// and reads the URL of a Sesame that trusts http://localhost:TRUSTED (BETTER_AUTH_TRUSTED_ORIGINS)
// and not the other.
import http from "node:http";
import assert from "node:assert/strict";
import * as esbuild from "esbuild";
import puppeteer from "puppeteer-core";
import { handshake, listen } from "./ports.mjs";

const chromium = process.env.CHROMIUM || "/usr/bin/chromium";

const bundle = await esbuild.build({
  stdin: {
    contents: 'export { createAuthClient } from "better-auth/client";',
    resolveDir: import.meta.dirname,
  },
  bundle: true,
  format: "esm",
  write: false,
});
const clientJs = bundle.outputFiles[0].text;
const page = `<!doctype html><html><head><title>app</title>
<script type="module">
import { createAuthClient } from "/client.js";
window.createAuthClient = createAuthClient;
window.ready = true;
</script></head><body>app</body></html>`;

function serveApp() {
  const server = http.createServer((req, res) => {
    if (req.url === "/client.js") {
      res.writeHead(200, { "content-type": "text/javascript" });
      res.end(clientJs);
    } else {
      res.writeHead(200, { "content-type": "text/html" });
      res.end(page);
    }
  });
  return server;
}

const servers = [serveApp(), serveApp()];
const [trustedPort, untrustedPort] = [await listen(servers[0]), await listen(servers[1])];
// Sesame and the app on one site (localhost), as a dev setup with Vite on :5173 is.
const sesame = (await handshake([trustedPort, untrustedPort])).replace("127.0.0.1", "localhost");
const browser = await puppeteer.launch({
  executablePath: chromium,
  headless: true,
  // Running as root in CI containers needs --no-sandbox; the page is our own.
  args: ["--no-sandbox", "--disable-dev-shm-usage", "--no-first-run"],
});
const timeout = setTimeout(() => {
  console.error("browser test timed out");
  process.exit(1);
}, 60_000);

async function open(port) {
  const tab = await browser.newPage();
  tab.on("console", (m) => console.log(`  [page :${port}] ${m.text()}`));
  await tab.goto(`http://localhost:${port}/`);
  await tab.waitForFunction("window.ready === true", { timeout: 20_000 });
  return tab;
}

try {
  const email = `browser-${Date.now()}@example.com`;
  const password = "correct horse battery staple";

  // The trusted app: the whole session flow through the official client.
  const app = await open(trustedPort);
  const result = await app.evaluate(
    async (baseURL, email, password) => {
      const client = window.createAuthClient({ baseURL });
      const out = {};
      const up = await client.signUp.email({ name: "Browser", email, password });
      out.signUp = { error: up.error, email: up.data?.user?.email };
      const out1 = await client.signOut();
      out.firstSignOut = { error: out1.error, success: out1.data?.success };
      out.afterFirstSignOut = (await client.getSession()).data;
      const inn = await client.signIn.email({ email, password });
      out.signIn = { error: inn.error, email: inn.data?.user?.email };
      const s = await client.getSession();
      out.session = { error: s.error, email: s.data?.user?.email, hasToken: !!s.data?.session?.token };
      // The cookie is HttpOnly: the page never sees it, the browser sends it.
      out.documentCookie = document.cookie;
      const o = await client.signOut();
      out.signOut = { error: o.error, success: o.data?.success };
      out.afterSignOut = (await client.getSession()).data;
      return out;
    },
    sesame,
    email,
    password,
  );
  console.log("trusted origin:", JSON.stringify(result));
  assert.equal(result.signUp.error, null);
  assert.equal(result.signUp.email, email);
  assert.equal(result.firstSignOut.success, true);
  assert.equal(result.afterFirstSignOut, null);
  assert.equal(result.signIn.error, null);
  assert.equal(result.signIn.email, email);
  assert.equal(result.session.error, null);
  assert.equal(result.session.email, email);
  assert.equal(result.session.hasToken, true);
  assert.equal(result.documentCookie, "");
  assert.equal(result.signOut.success, true);
  assert.equal(result.afterSignOut, null);

  // Sign in again on the trusted app, so the browser holds a live session cookie for Sesame's
  // site; the untrusted page (same site, other origin) must still not be able to use it.
  const again = await app.evaluate(async (baseURL, email, password) => {
    const client = window.createAuthClient({ baseURL });
    const r = await client.signIn.email({ email, password });
    return r.data?.user?.email ?? null;
  }, sesame, email, password);
  assert.equal(again, email);

  const evil = await open(untrustedPort);
  const blocked = await evil.evaluate(
    async (baseURL, email, password) => {
      const attempt = async (f) => {
        try {
          const r = await f();
          return { status: r.status };
        } catch (e) {
          return { error: e.name };
        }
      };
      return {
        // A simple credentialed GET: sent, but the browser withholds the answer.
        getSession: await attempt(() => fetch(`${baseURL}/api/auth/get-session`, { credentials: "include" })),
        // A JSON POST needs a preflight, which Sesame refuses: never sent.
        signIn: await attempt(() =>
          fetch(`${baseURL}/api/auth/sign-in/email`, {
            method: "POST",
            credentials: "include",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ email, password }),
          }),
        ),
        // The official client fails the same way (its fetch rejects).
        client: await (async () => {
          const client = window.createAuthClient({ baseURL });
          try {
            const s = await client.getSession();
            return { data: s.data ?? null };
          } catch (e) {
            return { error: e.name };
          }
        })(),
      };
    },
    sesame,
    email,
    password,
  );
  console.log("untrusted origin:", JSON.stringify(blocked));
  assert.deepEqual(blocked.getSession, { error: "TypeError" });
  assert.deepEqual(blocked.signIn, { error: "TypeError" });
  assert.deepEqual(blocked.client, { error: "TypeError" });

  // The refused sign-in never reached Sesame: the trusted app's session is the only one.
  const sessions = await app.evaluate(async (baseURL) => {
    const client = window.createAuthClient({ baseURL });
    const r = await client.listSessions();
    return r.data?.length ?? -1;
  }, sesame);
  assert.equal(sessions, 1);
  console.log("browser CORS flow: ok");
} finally {
  clearTimeout(timeout);
  await browser.close();
  for (const s of servers) s.close();
}
