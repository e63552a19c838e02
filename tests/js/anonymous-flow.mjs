// Better Auth's official client with `anonymousClient` (and `magicLinkClient`) against
// `sesame serve` started with SESAME_PLUGINS=anonymous,magic-link and SESAME_EMAIL_WEBHOOK_URL
// pointing at this script's receiver: a guest session, the refusal to become a second guest,
// deleteAnonymousUser, and the guest ended when it signs up, or signs in by magic link.
//
// Usage: node anonymous-flow.mjs, run by run.sh's `flow`: it announces `PORTS WEBHOOK_PORT`
// and reads the URL of the Sesame started for it.
import assert from "node:assert/strict";
import { anonymousClient, magicLinkClient } from "better-auth/client/plugins";
import { browser } from "./browser.mjs";
import { webhookInbox } from "./ports.mjs";

const password = "correct-horse-battery";
const stamp = Date.now();
let step = "";
const check = (name) => {
  step = name;
  console.log(`ok - ${name}`);
};

// The webhook transport's deliveries: {kind, to, url, token, ...}.
const { baseURL, mails, receiver } = await webhookInbox();

async function linkMail(to) {
  for (let i = 0; i < 400; i++) {
    const found = mails.find((m) => m.kind === "magic-link" && m.to === to);
    if (found) return found;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no magic-link email to ${to} arrived`);
}

const guestBrowser = () => browser(baseURL, [anonymousClient(), magicLinkClient()]);

try {
  const a = guestBrowser();
  const signedIn = await a.client.signIn.anonymous();
  assert.equal(signedIn.error, null, JSON.stringify(signedIn.error));
  const guest = signedIn.data.user;
  assert.equal(guest.isAnonymous, true);
  assert.equal(guest.name, "Anonymous");
  assert.match(guest.email, /^[a-z0-9]{32}@anonymous\.placeholder\.invalid$/);
  assert.equal(typeof signedIn.data.token, "string");
  const session = await a.client.getSession();
  assert.equal(session.data.user.id, guest.id);
  assert.equal(session.data.user.isAnonymous, true);
  check("signIn.anonymous makes a guest with a placeholder address and a session");

  const again = await a.client.signIn.anonymous();
  assert.equal(again.error?.status, 400);
  assert.equal(again.error?.code, "ANONYMOUS_USERS_CANNOT_SIGN_IN_AGAIN_ANONYMOUSLY");
  check("a guest cannot sign in anonymously again");

  const email = `anon_up_${stamp}@example.com`;
  const up = await a.client.signUp.email({ name: "Ada", email, password });
  assert.equal(up.error, null, JSON.stringify(up.error));
  assert.equal(up.data.user.isAnonymous, false);
  const after = await a.client.getSession();
  assert.equal(after.data.user.email, email);
  // The guest is gone: deleting it again finds no guest session (the browser is Ada now).
  const notGuest = await a.client.deleteAnonymousUser();
  assert.equal(notGuest.error?.status, 403);
  assert.equal(notGuest.error?.code, "USER_IS_NOT_ANONYMOUS");
  check("signing up ends the guest; deleteAnonymousUser refuses a real user");

  const b = guestBrowser();
  const guestB = (await b.client.signIn.anonymous()).data.user;
  const linkTo = `anon_ml_${stamp}@example.com`;
  assert.equal((await b.client.signIn.magicLink({ email: linkTo, callbackURL: "/app" })).error, null);
  const mail = await linkMail(linkTo);
  const opened = await b.open(mail.url);
  assert.equal(opened.status, 302);
  const now = await b.client.getSession();
  assert.equal(now.data.user.email, linkTo);
  assert.notEqual(now.data.user.id, guestB.id);
  assert.equal(now.data.user.isAnonymous, false);
  check("a magic link opened by a guest signs the guest in as the address's user");

  const c = guestBrowser();
  assert.equal((await c.client.signIn.anonymous()).error, null);
  const deleted = await c.client.deleteAnonymousUser();
  assert.equal(deleted.error, null, JSON.stringify(deleted.error));
  assert.deepEqual(deleted.data, { success: true });
  assert.equal((await c.client.getSession()).data, null);
  const gone = await c.client.deleteAnonymousUser();
  assert.equal(gone.error?.status, 401);
  check("deleteAnonymousUser deletes the guest and ends the session");
  console.log("anonymous flow: all checks passed");
} catch (e) {
  console.error(`not ok - after "${step}"`);
  console.error(e);
  process.exitCode = 1;
} finally {
  receiver.close();
}
