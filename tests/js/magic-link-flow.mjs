// Better Auth's official client with `magicLinkClient` against `sesame serve` started with
// SESAME_PLUGINS=magic-link and SESAME_EMAIL_WEBHOOK_URL pointing at this script's receiver:
// a link signs a new address up (newUserCallbackURL) and an existing one in (callbackURL),
// `magicLink.verify` answers the session, a spent link and a wrong token redirect with
// ?error=INVALID_TOKEN, hostile callback URLs are refused.
//
// Usage: node magic-link-flow.mjs, run by run.sh's `flow`: it announces `PORTS WEBHOOK_PORT`
// and reads the URL of the Sesame started for it.
import assert from "node:assert/strict";
import { magicLinkClient } from "better-auth/client/plugins";
import { browser } from "./browser.mjs";
import { webhookInbox } from "./ports.mjs";

const email = `ml_${Date.now()}@example.com`;
let step = "";
const check = (name) => {
  step = name;
  console.log(`ok - ${name}`);
};

// The webhook transport's deliveries: {kind, to, url, token, ...}.
const { baseURL, mails, receiver } = await webhookInbox();
const origin = new URL(baseURL).origin;

async function linkMail(to, count) {
  for (let i = 0; i < 400; i++) {
    const found = mails.filter((m) => m.kind === "magic-link" && m.to === to);
    if (found.length >= count) return found[count - 1];
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no magic-link email to ${to} arrived`);
}

try {
  const a = browser(baseURL, [magicLinkClient()]);
  const sent = await a.client.signIn.magicLink({
    email,
    name: "Ada",
    callbackURL: "/dash",
    newUserCallbackURL: "/welcome",
  });
  assert.equal(sent.error, null, JSON.stringify(sent.error));
  assert.deepEqual(sent.data, { status: true });
  const first = await linkMail(email, 1);
  const link = new URL(first.url);
  assert.equal(link.pathname, new URL(baseURL).pathname.replace(/\/$/, "") + "/api/auth/magic-link/verify");
  assert.equal(link.searchParams.get("token"), first.token);
  assert.equal(link.searchParams.get("callbackURL"), "/dash");
  assert.equal(link.searchParams.get("newUserCallbackURL"), "/welcome");
  check("signIn.magicLink emails a link (webhook kind magic-link, url and token)");

  const opened = await a.open(first.url);
  assert.equal(opened.status, 302);
  assert.equal(opened.headers.get("location"), `${origin}/welcome`);
  const session = await a.client.getSession();
  assert.equal(session.data.user.email, email);
  assert.equal(session.data.user.name, "Ada");
  assert.equal(session.data.user.emailVerified, true);
  check("the link signs a new address up, verified, and redirects to newUserCallbackURL");

  const again = await a.open(first.url);
  assert.equal(again.status, 302);
  assert.equal(again.headers.get("location"), `${origin}/dash?error=INVALID_TOKEN`);
  check("a spent link redirects with ?error=INVALID_TOKEN");

  // A second browser: the existing user, through the client's verify call (JSON answer).
  const b = browser(baseURL, [magicLinkClient()]);
  assert.equal((await b.client.signIn.magicLink({ email })).error, null);
  const second = await linkMail(email, 2);
  const verified = await b.client.magicLink.verify({ query: { token: second.token } });
  assert.equal(verified.error, null, JSON.stringify(verified.error));
  assert.equal(verified.data.user.email, email);
  assert.equal(verified.data.session.token, verified.data.token);
  assert.equal((await b.client.getSession()).data.user.id, session.data.user.id);
  check("magicLink.verify without callbackURL answers {token, user, session} for the existing user");

  const redirect = await b.open(`${baseURL}/api/auth/magic-link/verify?token=${second.token}&callbackURL=%2Fdash`);
  assert.equal(redirect.headers.get("location"), `${origin}/dash?error=INVALID_TOKEN`);
  const wrong = await b.open(`${baseURL}/api/auth/magic-link/verify?token=wrong&errorCallbackURL=%2Foops`);
  assert.equal(wrong.status, 302);
  assert.equal(wrong.headers.get("location"), `${origin}/oops?error=INVALID_TOKEN`);
  check("a wrong token redirects to errorCallbackURL with ?error=INVALID_TOKEN");

  for (const [field, code] of [
    ["callbackURL", "INVALID_CALLBACK_URL"],
    ["newUserCallbackURL", "INVALID_NEW_USER_CALLBACK_URL"],
    ["errorCallbackURL", "INVALID_ERROR_CALLBACK_URL"],
  ]) {
    const refused = await b.client.signIn.magicLink({ email, [field]: "https://evil.example" });
    assert.equal(refused.error?.status, 403, field);
    assert.equal(refused.error?.code, code);
  }
  const hostile = await b.open(`${baseURL}/api/auth/magic-link/verify?token=x&callbackURL=https%3A%2F%2Fevil.example`);
  assert.equal(hostile.status, 403);
  assert.equal((await hostile.json()).code, "INVALID_CALLBACK_URL");
  check("hostile callback URLs are refused (403)");
  console.log("magic-link flow: all checks passed");
} catch (e) {
  console.error(`not ok - after "${step}"`);
  console.error(e);
  process.exitCode = 1;
} finally {
  receiver.close();
}
