// Better Auth's official client with `twoFactorClient` against `sesame serve` started with
// SESAME_PLUGINS=two-factor and SESAME_EMAIL_WEBHOOK_URL pointing at this script's receiver:
// TOTP set-up and sign-in (codes computed here from the totpURI, RFC 6238 with node:crypto),
// trusted device, the emailed OTP, single-use backup codes, new codes, disable.
//
// Usage: node two-factor-flow.mjs, run by run.sh's `flow`: it announces `PORTS WEBHOOK_PORT`
// and reads the URL of the Sesame started for it.
import crypto from "node:crypto";
import assert from "node:assert/strict";
import { twoFactorClient } from "better-auth/client/plugins";
import { browser } from "./browser.mjs";
import { webhookInbox } from "./ports.mjs";

const password = "correct-horse-battery";
const email = `tfa_${Date.now()}@example.com`;
let step = "";
const check = (name) => {
  step = name;
  console.log(`ok - ${name}`);
};

// The webhook transport's deliveries: {kind, to, url, token, ...}.
const { baseURL, mails, receiver } = await webhookInbox();

async function otpMail(count) {
  for (let i = 0; i < 200; i++) {
    const found = mails.filter((m) => m.kind === "two-factor-otp" && m.to === email);
    if (found.length >= count) return found[count - 1];
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error("no two-factor-otp email arrived");
}

function base32(text) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const ch of text.toUpperCase()) bits += alphabet.indexOf(ch).toString(2).padStart(5, "0");
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

// The code of the 30-second step `offset` steps from now (an authenticator app's arithmetic).
function totp(uri, offset = 0) {
  const key = base32(new URL(uri).searchParams.get("secret"));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30000) + offset));
  const mac = crypto.createHmac("sha1", key).update(counter).digest();
  const o = mac[mac.length - 1] & 15;
  return String((mac.readUInt32BE(o) & 0x7fffffff) % 1e6).padStart(6, "0");
}

function twoFactorBrowser() {
  const seen = [];
  const b = browser(baseURL, [twoFactorClient({ onTwoFactorRedirect: (ctx) => seen.push(ctx.twoFactorMethods) })]);
  return { ...b, seen };
}

try {
  const a = twoFactorBrowser();
  const up = await a.client.signUp.email({ name: "Ada", email, password });
  assert.equal(up.error, null, JSON.stringify(up.error));
  assert.equal(up.data.user.twoFactorEnabled, false);
  const enabled = await a.client.twoFactor.enable({ password });
  assert.equal(enabled.error, null, JSON.stringify(enabled.error));
  const { totpURI, backupCodes } = enabled.data;
  assert.match(totpURI, /^otpauth:\/\/totp\/Sesame:/);
  assert.equal(backupCodes.length, 10);
  const first = await a.client.twoFactor.verifyTotp({ code: totp(totpURI) });
  assert.equal(first.error, null, JSON.stringify(first.error));
  assert.equal(first.data.user.twoFactorEnabled, true);
  assert.equal((await a.client.getSession()).data.user.twoFactorEnabled, true);
  check("twoFactor.enable + verifyTotp (set-up)");

  const uri = await a.client.twoFactor.getTotpUri({ password });
  assert.equal(uri.data.totpURI, totpURI);
  check("twoFactor.getTotpUri");

  await a.client.signOut();
  const challenge = await a.client.signIn.email({ email, password });
  assert.equal(challenge.error, null, JSON.stringify(challenge.error));
  assert.equal(challenge.data.twoFactorRedirect, true);
  assert.deepEqual(a.seen, [["totp", "otp"]]);
  assert.equal((await a.client.getSession()).data, null);
  const replayed = await a.client.twoFactor.verifyTotp({ code: totp(totpURI) });
  assert.equal(replayed.error?.code, "INVALID_CODE", "a used code is refused");
  const signedIn = await a.client.twoFactor.verifyTotp({ code: totp(totpURI, 1), trustDevice: true });
  assert.equal(signedIn.error, null, JSON.stringify(signedIn.error));
  assert.equal((await a.client.getSession()).data.user.email, email);
  check("signIn.email → onTwoFactorRedirect → verifyTotp");

  await a.client.signOut();
  const trusted = await a.client.signIn.email({ email, password });
  assert.equal(trusted.error, null);
  assert.ok(trusted.data.token && !trusted.data.twoFactorRedirect, "a trusted device signs in at once");
  check("trusted device");

  const b = twoFactorBrowser();
  assert.equal((await b.client.signIn.email({ email, password })).data.twoFactorRedirect, true);
  const sent = await b.client.twoFactor.sendOtp();
  assert.equal(sent.error, null, JSON.stringify(sent.error));
  const mail = await otpMail(1);
  assert.match(mail.token, /^\d{6}$/);
  assert.equal(mail.url, null, "a code, nothing to click");
  const wrongOtp = await b.client.twoFactor.verifyOtp({ code: mail.token === "000000" ? "111111" : "000000" });
  assert.equal(wrongOtp.error?.code, "INVALID_CODE");
  const viaOtp = await b.client.twoFactor.verifyOtp({ code: mail.token });
  assert.equal(viaOtp.error, null, JSON.stringify(viaOtp.error));
  assert.equal((await b.client.getSession()).data.user.email, email);
  check("sendOtp (webhook two-factor-otp) + verifyOtp");

  const c = twoFactorBrowser();
  await c.client.signIn.email({ email, password });
  const viaBackup = await c.client.twoFactor.verifyBackupCode({ code: backupCodes[0] });
  assert.equal(viaBackup.error, null, JSON.stringify(viaBackup.error));
  assert.equal((await c.client.getSession()).data.user.email, email);
  const d = twoFactorBrowser();
  await d.client.signIn.email({ email, password });
  const again = await d.client.twoFactor.verifyBackupCode({ code: backupCodes[0] });
  assert.equal(again.error?.code, "INVALID_BACKUP_CODE", "a backup code works once");
  check("verifyBackupCode, single use");

  const fresh = await a.client.twoFactor.generateBackupCodes({ password });
  assert.equal(fresh.error, null, JSON.stringify(fresh.error));
  assert.equal(fresh.data.backupCodes.length, 10);
  const old = await d.client.twoFactor.verifyBackupCode({ code: backupCodes[1] });
  assert.equal(old.error?.code, "INVALID_BACKUP_CODE", "new codes replace the old set");
  check("generateBackupCodes");

  const off = await a.client.twoFactor.disable({ password });
  assert.equal(off.error, null, JSON.stringify(off.error));
  const e = twoFactorBrowser();
  const plain = await e.client.signIn.email({ email, password });
  assert.ok(plain.data.token && !plain.data.twoFactorRedirect);
  check("twoFactor.disable");

  console.log("js two-factor client: all steps passed");
  receiver.close();
} catch (err) {
  console.error(`not ok - after step "${step}":`, err);
  process.exit(1);
}
