// Better Auth's official JavaScript client (`better-auth/client`, unchanged) against a live
// Sesame server: sign up, sign in, get the session, list and revoke sessions, update the user
// and the session, change the password and sign out. Exits non-zero on the first mismatch.
//
// Usage: node client-flow.mjs http://127.0.0.1:PORT [COOKIE_PREFIX]
// (COOKIE_PREFIX: the server's SESAME_COOKIE_PREFIX, `better-auth` by default)
import { browser as makeBrowser } from "./browser.mjs";
import assert from "node:assert/strict";

const baseURL = process.argv[2];
if (!baseURL) {
  console.error("usage: node client-flow.mjs BASE_URL");
  process.exit(2);
}

const prefix = process.argv[3] || "better-auth";
const browser = () => makeBrowser(baseURL);

const email = `js-${Date.now()}@example.com`;
const password = "correct-horse-battery";
let step = "";
const check = (name) => {
  step = name;
  console.log(`ok - ${name}`);
};

try {
  const a = browser();
  const up = await a.client.signUp.email({ name: "JS Client", email, password });
  assert.equal(up.error, null, JSON.stringify(up.error));
  assert.equal(up.data.user.email, email);
  assert.ok(up.data.token);
  assert.ok(a.jar.has(`${prefix}.session_token`));
  check("signUp.email");

  const dup = await browser().client.signUp.email({ name: "Again", email, password });
  assert.equal(dup.error.status, 422);
  assert.equal(dup.error.code, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL");
  check("signUp.email duplicate → 422");

  const s1 = await a.client.getSession();
  assert.equal(s1.error, null);
  assert.equal(s1.data.user.email, email);
  assert.equal(s1.data.session.token, up.data.token);
  check("getSession");

  const b = browser();
  const wrong = await b.client.signIn.email({ email, password: "wrong-password" });
  assert.equal(wrong.error.status, 401);
  assert.equal(wrong.error.code, "INVALID_EMAIL_OR_PASSWORD");
  check("signIn.email wrong password → 401");

  const inB = await b.client.signIn.email({ email, password, rememberMe: false });
  assert.equal(inB.error, null, JSON.stringify(inB.error));
  assert.equal(inB.data.user.email, email);
  assert.ok(b.jar.has(`${prefix}.dont_remember`));
  check("signIn.email rememberMe:false");

  const list = await a.client.listSessions();
  assert.equal(list.error, null, JSON.stringify(list.error));
  assert.equal(list.data.length, 2);
  check("listSessions");

  const upd = await a.client.updateUser({ name: "Renamed", image: "https://example.com/a.png" });
  assert.equal(upd.error, null, JSON.stringify(upd.error));
  const s2 = await a.client.getSession();
  assert.equal(s2.data.user.name, "Renamed");
  assert.equal(s2.data.user.image, "https://example.com/a.png");
  check("updateUser");

  const updS = await a.client.updateSession({ expiresAt: "2099-01-01T00:00:00.000Z" });
  assert.equal(updS.error.status, 400);
  assert.equal(updS.error.code, "NO_FIELDS_TO_UPDATE");
  assert.equal(updS.error.message, "No fields to update");
  check("updateSession without additional session fields → 400");

  // The server closes after refusing an oversized body and says so: Node's keep-alive pool
  // must not send the next request into that socket.
  const big = await fetch(`${baseURL}/api/auth/sign-in/email`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: " ".repeat(1024 * 1024 + 1),
  });
  assert.equal(big.status, 413);
  assert.equal(big.headers.get("connection"), "close");
  assert.equal((await big.json()).code, "PAYLOAD_TOO_LARGE");
  for (let i = 0; i < 3; i++) assert.equal((await fetch(`${baseURL}/api/auth/ok`)).status, 200);
  check("413 announces Connection: close; the next requests go through");

  const revOne = await a.client.revokeSession({ token: inB.data.token });
  assert.equal(revOne.error, null);
  assert.equal((await b.client.getSession()).data, null);
  check("revokeSession");

  const c = browser();
  const inC = await c.client.signIn.email({ email, password });
  assert.equal(inC.error, null, JSON.stringify(inC.error));
  assert.equal((await c.client.getSession()).data.session.token, inC.data.token);
  const revOthers = await a.client.revokeOtherSessions();
  assert.equal(revOthers.error, null);
  assert.equal((await c.client.getSession()).data, null);
  assert.equal((await a.client.getSession()).data.user.email, email);
  check("revokeOtherSessions");

  const badChange = await a.client.changePassword({ currentPassword: "nope-nope-nope", newPassword: "another-password-1" });
  assert.equal(badChange.error.code, "INVALID_PASSWORD");
  const changed = await a.client.changePassword({
    currentPassword: password,
    newPassword: "another-password-1",
    revokeOtherSessions: true,
  });
  assert.equal(changed.error, null, JSON.stringify(changed.error));
  assert.ok(changed.data.token);
  assert.equal((await a.client.getSession()).data.session.token, changed.data.token);
  const newIn = await browser().client.signIn.email({ email, password: "another-password-1" });
  assert.equal(newIn.error, null);
  check("changePassword (revokeOtherSessions)");

  const d = browser();
  const inD = await d.client.signIn.email({ email, password: "another-password-1" });
  assert.equal(inD.error, null, JSON.stringify(inD.error));
  assert.equal((await a.client.getSession()).data.user.email, email, "a is signed in before revokeSessions");
  const revAll = await d.client.revokeSessions();
  assert.equal(revAll.error, null);
  assert.equal((await a.client.getSession()).data, null);
  assert.equal((await d.client.getSession()).data, null);
  check("revokeSessions");

  const e = browser();
  const inE = await e.client.signIn.email({ email, password: "another-password-1" });
  assert.equal(inE.error, null, JSON.stringify(inE.error));
  assert.equal((await e.client.getSession()).data.session.token, inE.data.token);
  const out = await e.client.signOut();
  assert.equal(out.error, null, JSON.stringify(out.error));
  assert.equal(out.data.success, true);
  assert.ok(!e.jar.has(`${prefix}.session_token`));
  assert.equal((await e.client.getSession()).data, null);
  check("signOut");

  console.log("js client: all steps passed");
} catch (err) {
  console.error(`not ok - after step "${step}":`, err);
  process.exit(1);
}
