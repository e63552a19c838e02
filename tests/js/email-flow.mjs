// Better Auth's official JS client through every email flow against a live `sesame serve`,
// with the links taken from emails that really arrived: over the signed webhook (this script
// is the sink) or over SMTP (files written by tests/smtp_sink.py).
//
// Usage: node email-flow.mjs webhook SECRET     (run by run.sh's `flow`: the sink's port is
//                                               announced, Sesame's URL read from stdin)
//        node email-flow.mjs smtp OUT_DIR BASE_URL
// Sesame must run with SESAME_SEND_VERIFICATION_ON_SIGN_UP=true, SESAME_CHANGE_EMAIL=true,
// SESAME_DELETE_USER=true and the matching SESAME_EMAIL_WEBHOOK_URL or SESAME_SMTP_URL.
import { browser as makeBrowser } from "./browser.mjs";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import http from "node:http";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { handshake, listen } from "./ports.mjs";

const transport = process.argv[2];
const arg = transport === "smtp" ? process.argv[3] : null; // the SMTP sink's directory
const secret = transport === "webhook" ? process.argv[3] : null;
let baseURL = transport === "smtp" ? process.argv[4] : null;
const inbox = [];

if (transport === "webhook") {
  const key = crypto.createHmac("sha256", secret).update("sesame-email-webhook").digest();
  const sink = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks);
      const expected = "sha256=" + crypto.createHmac("sha256", key).update(raw).digest("hex");
      const got = req.headers["x-sesame-signature"] || "";
      if (got.length !== expected.length || !crypto.timingSafeEqual(Buffer.from(got), Buffer.from(expected))) {
        res.writeHead(401).end();
        inbox.push({ badSignature: true });
        return;
      }
      inbox.push(JSON.parse(raw.toString("utf8")));
      res.writeHead(204).end();
    });
  });
  baseURL = await handshake([await listen(sink)]);
  process.on("exit", () => sink.close());
}

// The kind of an SMTP email, from its link (the webhook says it outright).
function kindOfLink(url) {
  const u = new URL(url);
  if (u.pathname.endsWith("/delete-user/callback")) return "delete-account";
  if (u.pathname.includes("/reset-password/")) return "reset-password";
  const claims = JSON.parse(Buffer.from(u.searchParams.get("token").split(".")[1], "base64url").toString());
  return claims.requestType || "verification";
}

let smtpSeen = 0;
function pollSmtp() {
  const files = readdirSync(arg).filter((f) => f.endsWith(".json")).sort();
  for (const f of files.slice(smtpSeen)) {
    const rec = JSON.parse(readFileSync(path.join(arg, f), "utf8"));
    const url = (rec.text || "").match(/https?:\/\/\S+/)[0];
    inbox.push({ kind: kindOfLink(url), to: rec.envelope?.rcpt_tos?.[0] ?? rec.to, url });
  }
  smtpSeen = files.length;
}

// The next email of this kind to this address (bounded wait: delivery is asynchronous).
async function nextMail(kind, to) {
  for (let i = 0; i < 200; i++) {
    if (transport === "smtp") pollSmtp();
    assert.ok(!inbox.some((m) => m.badSignature), "every webhook carries a valid signature");
    const i2 = inbox.findIndex((m) => m.kind === kind && m.to === to);
    if (i2 >= 0) return inbox.splice(i2, 1)[0];
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no ${kind} email to ${to} within 10 s (inbox: ${JSON.stringify(inbox.map((m) => [m.kind, m.to]))})`);
}

const browser = () => makeBrowser(baseURL);

let step = "";
const check = (name) => {
  step = name;
  console.log(`ok - ${transport}: ${name}`);
};

try {
  const tag = `${transport}-${Date.now()}`;
  const email = `${tag}@example.com`;
  const a = browser();
  assert.equal((await a.client.signUp.email({ name: "Mail", email, password: "correct-horse-battery" })).error, null);
  const verify = await nextMail("verification", email);
  const opened = await a.open(verify.url);
  assert.equal(opened.status, 302);
  assert.equal((await a.client.getSession()).data.user.emailVerified, true);
  check("sign-up verification email, link verifies");

  const again = await a.client.sendVerificationEmail({ email });
  assert.equal(again.error?.code, "EMAIL_ALREADY_VERIFIED");
  check("sendVerificationEmail when verified → EMAIL_ALREADY_VERIFIED");

  const b = browser();
  const req = await b.client.requestPasswordReset({ email, redirectTo: "/reset" });
  assert.equal(req.error, null, JSON.stringify(req.error));
  const reset = await nextMail("reset-password", email);
  const landing = await b.open(reset.url);
  assert.equal(landing.status, 302);
  const token = new URL(landing.headers.get("location")).searchParams.get("token");
  assert.ok(token);
  assert.equal((await b.client.resetPassword({ newPassword: "a-brand-new-password", token })).error, null);
  assert.equal((await b.client.resetPassword({ newPassword: "a-brand-new-password", token })).error.code, "INVALID_TOKEN");
  assert.equal((await browser().client.signIn.email({ email, password: "a-brand-new-password" })).error, null);
  const unknown = await b.client.requestPasswordReset({ email: `nobody-${tag}@example.com` });
  assert.equal(unknown.error, null);
  check("requestPasswordReset → emailed link → resetPassword (single use); unknown email same answer");

  const newEmail = `new-${tag}@example.com`;
  assert.equal((await a.client.changeEmail({ newEmail, callbackURL: "/settings" })).error, null);
  const confirm = await nextMail("change-email-confirmation", email);
  assert.equal((await a.open(confirm.url)).status, 302);
  const verifyNew = await nextMail("change-email-verification", newEmail);
  assert.equal((await a.open(verifyNew.url)).status, 302);
  assert.equal((await a.client.getSession()).data.user.email, newEmail);
  const same = await a.client.changeEmail({ newEmail });
  assert.equal(same.error.status, 400);
  check("changeEmail: confirmation from the old address, verification at the new one");

  assert.equal((await a.client.deleteUser({ callbackURL: "/bye" })).error, null);
  const del = await nextMail("delete-account", newEmail);
  const gone = await a.open(del.url);
  assert.equal(gone.status, 302);
  assert.equal((await a.client.getSession()).data, null);
  const fresh = await browser().client.signUp.email({ name: "Again", email: newEmail, password: "correct-horse-battery" });
  assert.equal(fresh.error, null, "the address is free again");
  check("deleteUser → emailed link deletes the account");

  console.log(`js email flows (${transport}): all steps passed`);
  process.exit(0);
} catch (err) {
  console.error(`not ok - ${transport}: after step "${step}":`, err);
  process.exit(1);
}
