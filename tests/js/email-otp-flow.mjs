// Better Auth's official client with `emailOTPClient` against `sesame serve` started with
// SESAME_PLUGINS=email-otp and SESAME_EMAIL_WEBHOOK_URL pointing at this script's receiver:
// sign-up and sign-in by code, wrong and reused codes, the try limit, checking and verifying
// an address, the password reset by code (and its former route name), and an unknown address
// answered like a known one.
//
// Usage: node email-otp-flow.mjs, run by run.sh's `flow`: it announces `PORTS WEBHOOK_PORT`
// and reads the URL of the Sesame started for it.
import assert from "node:assert/strict";
import { emailOTPClient } from "better-auth/client/plugins";
import { browser } from "./browser.mjs";
import { webhookInbox } from "./ports.mjs";

const email = `otp_${Date.now()}@example.com`;
const nobody = `nobody_${Date.now()}@example.com`;
let step = "";
const check = (name) => {
  step = name;
  console.log(`ok - ${name}`);
};

// The webhook transport's deliveries: {kind, to, url, token, ...}.
const { baseURL, mails, receiver } = await webhookInbox();

const count = (kind, to) => mails.filter((m) => m.kind === kind && m.to === to).length;

// The code of the `n`th mail of this kind to `to` (1-based), once it has arrived.
async function codeMail(kind, to, n) {
  for (let i = 0; i < 200; i++) {
    const found = mails.filter((m) => m.kind === kind && m.to === to);
    if (found.length >= n) {
      const mail = found[n - 1];
      assert.match(mail.token, /^\d{6}$/);
      assert.equal(mail.url, null, "a code, nothing to click");
      return mail.token;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no ${kind} email to ${to} arrived`);
}

const other = (code) => (code === "000000" ? "111111" : "000000");
const ok = (res) => assert.equal(res.error, null, JSON.stringify(res.error));

try {
  const a = browser(baseURL, [emailOTPClient()]);
  ok(await a.client.emailOtp.sendVerificationOtp({ email, type: "sign-in" }));
  let code = await codeMail("email-otp-sign-in", email, 1);
  const wrong = await a.client.signIn.emailOtp({ email, otp: other(code) });
  assert.equal(wrong.error?.code, "INVALID_OTP");
  assert.equal(wrong.error?.status, 400);
  const up = await a.client.signIn.emailOtp({ email, otp: code, name: "Ada" });
  ok(up);
  assert.equal(up.data.user.email, email);
  assert.equal(up.data.user.name, "Ada");
  assert.equal(up.data.user.emailVerified, true);
  assert.ok(up.data.token);
  assert.equal((await a.client.getSession()).data.user.email, email);
  check("emailOtp.sendVerificationOtp(sign-in) + signIn.emailOtp signs a new address up");

  const b = browser(baseURL, [emailOTPClient()]);
  const reused = await b.client.signIn.emailOtp({ email, otp: code });
  assert.equal(reused.error?.code, "INVALID_OTP", "a code works once");
  ok(await b.client.emailOtp.sendVerificationOtp({ email, type: "sign-in" }));
  code = await codeMail("email-otp-sign-in", email, 2);
  for (let i = 0; i < 3; i++) {
    assert.equal((await b.client.signIn.emailOtp({ email, otp: other(code) })).error?.code, "INVALID_OTP");
  }
  const locked = await b.client.signIn.emailOtp({ email, otp: code });
  assert.equal(locked.error?.code, "TOO_MANY_ATTEMPTS");
  assert.equal(locked.error?.status, 403);
  check("reused code, three wrong tries then TOO_MANY_ATTEMPTS");

  ok(await b.client.emailOtp.sendVerificationOtp({ email, type: "sign-in" }));
  code = await codeMail("email-otp-sign-in", email, 3);
  ok(await b.client.signIn.emailOtp({ email, otp: code }));
  assert.equal((await b.client.getSession()).data.user.email, email);
  check("signIn.emailOtp of an existing user");

  ok(await a.client.emailOtp.sendVerificationOtp({ email, type: "email-verification" }));
  code = await codeMail("email-otp-email-verification", email, 1);
  const checked = await a.client.emailOtp.checkVerificationOtp({ email, type: "email-verification", otp: code });
  ok(checked);
  assert.equal(checked.data.success, true);
  const verified = await a.client.emailOtp.verifyEmail({ email, otp: code });
  ok(verified);
  assert.equal(verified.data.status, true);
  assert.equal(verified.data.token, null);
  assert.equal(verified.data.user.emailVerified, true);
  check("emailOtp.checkVerificationOtp keeps the code; emailOtp.verifyEmail uses it");

  ok(await a.client.emailOtp.requestPasswordReset({ email }));
  code = await codeMail("email-otp-forget-password", email, 1);
  const short = await a.client.emailOtp.resetPassword({ email, otp: code, password: "short" });
  assert.equal(short.error?.code, "PASSWORD_TOO_SHORT");
  ok(await a.client.emailOtp.resetPassword({ email, otp: code, password: "new-password-123" }));
  const again = await a.client.emailOtp.resetPassword({ email, otp: code, password: "other-password-456" });
  assert.equal(again.error?.code, "INVALID_OTP");
  const c = browser(baseURL, [emailOTPClient()]);
  ok(await c.client.signIn.email({ email, password: "new-password-123" }));
  check("emailOtp.requestPasswordReset + emailOtp.resetPassword; the new password signs in");

  ok(await c.client.forgetPassword.emailOtp({ email }));
  await codeMail("email-otp-forget-password", email, 2);
  check("forgetPassword.emailOtp (the former route name)");

  for (const type of ["email-verification", "forget-password"]) {
    const known = await c.client.emailOtp.sendVerificationOtp({ email, type });
    const unknown = await c.client.emailOtp.sendVerificationOtp({ email: nobody, type });
    assert.deepEqual(unknown, known, type);
  }
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(mails.filter((m) => m.to === nobody).length, 0, "nothing to an unknown address");
  assert.equal(count("email-otp-forget-password", email), 3);
  check("an unknown address answers like a known one and gets no mail");

  console.log("js email-otp client: all steps passed");
  receiver.close();
} catch (err) {
  console.error(`not ok - after step "${step}":`, err);
  process.exit(1);
}
