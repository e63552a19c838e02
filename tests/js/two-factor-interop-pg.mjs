// Sesame and Better Auth's twoFactor plugin sharing one PostgreSQL database with one secret:
// an authenticator and backup codes set up through either work through the other (the
// twoFactor row's encrypted secret and codes are read both ways). Better Auth runs in this
// process (npm `better-auth` 1.7.25 with `twoFactor()`, `pg`); Sesame is the live server at
// BASE_URL started with SESAME_PLUGINS=two-factor and SESAME_PASSWORD_HASH=scrypt.
//
// Usage: node two-factor-interop-pg.mjs BASE_URL DATABASE_URL SECRET
import { betterAuth } from "better-auth";
import { twoFactor } from "better-auth/plugins/two-factor";
import crypto from "node:crypto";
import pg from "pg";
import assert from "node:assert/strict";

const [baseURL, databaseURL, secret] = process.argv.slice(2);
const pool = new pg.Pool({ connectionString: databaseURL, max: 2 });
const auth = betterAuth({
  baseURL: "http://127.0.0.1:1",
  secret,
  database: pool,
  emailAndPassword: { enabled: true },
  plugins: [twoFactor({ issuer: "Sesame" })],
  telemetry: { enabled: false },
  logger: { level: "error" },
});
const password = "correct-horse-battery";
const tag = Date.now();
let step = "";
const check = (name) => {
  step = name;
  console.log(`ok - ${name}`);
};

function base32(text) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const ch of text.toUpperCase()) bits += alphabet.indexOf(ch).toString(2).padStart(5, "0");
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

function totp(uri, offset = 0) {
  const key = base32(new URL(uri).searchParams.get("secret"));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30000) + offset));
  const mac = crypto.createHmac("sha1", key).update(counter).digest();
  const o = mac[mac.length - 1] & 15;
  return String((mac.readUInt32BE(o) & 0x7fffffff) % 1e6).padStart(6, "0");
}

const pairs = (setCookies) => setCookies.map((c) => c.split(";")[0]).filter((c) => !c.endsWith("="));

async function sesame(path, { body, cookie } = {}) {
  const headers = { origin: baseURL, "content-type": "application/json" };
  if (cookie) headers.cookie = cookie;
  const res = await fetch(`${baseURL}/api/auth${path}`, { method: "POST", headers, body: JSON.stringify(body ?? {}) });
  return { status: res.status, json: await res.json(), cookie: pairs(res.headers.getSetCookie()).join("; ") };
}

try {
  // Set up in Sesame, used through Better Auth.
  const a = `tfa-sesame-${tag}@example.com`;
  const up = await sesame("/sign-up/email", { body: { name: "Ada", email: a, password } });
  const enabled = await sesame("/two-factor/enable", { body: { password }, cookie: up.cookie });
  assert.equal(enabled.status, 200, JSON.stringify(enabled.json));
  const { totpURI, backupCodes } = enabled.json;
  const confirmed = await sesame("/two-factor/verify-totp", { body: { code: totp(totpURI) }, cookie: up.cookie });
  assert.equal(confirmed.json.user.twoFactorEnabled, true);
  const challenge = await auth.api.signInEmail({ body: { email: a, password }, returnHeaders: true });
  assert.equal(challenge.response.twoFactorRedirect, true);
  const twoFactorCookie = pairs(challenge.headers.getSetCookie()).join("; ");
  const viaBa = await auth.api.verifyTOTP({ body: { code: totp(totpURI, 1) }, headers: new Headers({ cookie: twoFactorCookie }) });
  assert.equal(viaBa.user.email, a);
  const codes = await auth.api.viewBackupCodes({ body: { userId: viaBa.user.id } });
  assert.deepEqual(codes.backupCodes, backupCodes);
  check("a TOTP secret and backup codes Sesame stored work through Better Auth");

  // Set up in Better Auth, used through Sesame.
  const b = `tfa-ba-${tag}@example.com`;
  const made = await auth.api.signUpEmail({ body: { name: "Grace", email: b, password }, returnHeaders: true });
  const session = new Headers({ cookie: pairs(made.headers.getSetCookie()).join("; ") });
  const baEnabled = await auth.api.enableTwoFactor({ body: { password }, headers: session });
  await auth.api.verifyTOTP({ body: { code: totp(baEnabled.totpURI) }, headers: session });
  const signIn = await sesame("/sign-in/email", { body: { email: b, password } });
  assert.equal(signIn.json.twoFactorRedirect, true, JSON.stringify(signIn.json));
  const verified = await sesame("/two-factor/verify-totp", { body: { code: totp(baEnabled.totpURI, 1) }, cookie: signIn.cookie });
  assert.equal(verified.status, 200, JSON.stringify(verified.json));
  assert.equal(verified.json.user.email, b);
  const again = await sesame("/sign-in/email", { body: { email: b, password } });
  const backup = await sesame("/two-factor/verify-backup-code", { body: { code: baEnabled.backupCodes[0] }, cookie: again.cookie });
  assert.equal(backup.status, 200, JSON.stringify(backup.json));
  const left = await auth.api.viewBackupCodes({ body: { userId: verified.json.user.id } });
  assert.deepEqual(left.backupCodes, baEnabled.backupCodes.slice(1));
  check("a TOTP secret and backup codes Better Auth stored work through Sesame");

  console.log("two-factor interop with Better Auth on PostgreSQL: all steps passed");
  await pool.end();
} catch (err) {
  console.error(`not ok - after step "${step}":`, err);
  await pool.end();
  process.exit(1);
}
