// Sesame and Better Auth sharing one PostgreSQL database with one secret: users created by
// either sign in through the other, and session cookies from either are accepted by the
// other. Better Auth runs in this process (npm `better-auth` 1.7.25, `pg`), Sesame is the
// live server at BASE_URL started with SESAME_PASSWORD_HASH=scrypt on DATABASE_URL.
//
// Usage: node interop-pg.mjs BASE_URL DATABASE_URL SECRET
import { betterAuth } from "better-auth";
import pg from "pg";
import assert from "node:assert/strict";

const [baseURL, databaseURL, secret] = process.argv.slice(2);
const pool = new pg.Pool({ connectionString: databaseURL, max: 2 });
const auth = betterAuth({
  baseURL: "http://127.0.0.1:1",
  secret,
  database: pool,
  emailAndPassword: { enabled: true },
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

async function sesame(path, { body, cookie } = {}) {
  const headers = { origin: baseURL };
  if (body) headers["content-type"] = "application/json";
  if (cookie) headers.cookie = cookie;
  const res = await fetch(`${baseURL}/api/auth${path}`, { method: body ? "POST" : "GET", headers, body: body && JSON.stringify(body) });
  const cookies = res.headers.getSetCookie().map((c) => c.split(";")[0]).filter((c) => !c.endsWith("="));
  return { status: res.status, json: await res.json(), cookie: cookies.find((c) => c.startsWith("better-auth.session_token=")) };
}

try {
  const a = `sesame-made-${tag}@example.com`;
  const up = await sesame("/sign-up/email", { body: { name: "Made by Sesame", email: a, password } });
  assert.equal(up.status, 200);
  const viaBa = await auth.api.signInEmail({ body: { email: a, password }, returnHeaders: true });
  assert.equal(viaBa.response.user.email, a);
  check("a user Sesame created (scrypt) signs in through Better Auth");
  const baSeesSesameCookie = await auth.api.getSession({ headers: new Headers({ cookie: up.cookie }) });
  assert.equal(baSeesSesameCookie.user.email, a);
  check("Better Auth accepts Sesame's session cookie");

  const b = `ba-made-${tag}@example.com`;
  const made = await auth.api.signUpEmail({ body: { name: "Made by Better Auth", email: b, password }, returnHeaders: true });
  assert.equal(made.response.user.email, b);
  const cookie = made.headers.getSetCookie().map((c) => c.split(";")[0]).find((c) => c.startsWith("better-auth.session_token="));
  const inSesame = await sesame("/sign-in/email", { body: { email: b, password } });
  assert.equal(inSesame.status, 200, JSON.stringify(inSesame.json));
  check("a user Better Auth created signs in through Sesame (its account row got an issuer)");
  const s = await sesame("/get-session", { cookie });
  assert.equal(s.json.user.email, b);
  check("Sesame accepts Better Auth's session cookie");
  const dup = await sesame("/sign-up/email", { body: { name: "x", email: b, password } });
  assert.equal(dup.json.code, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL");
  console.log("js Better Auth interop: all steps passed");
} catch (err) {
  console.error(`not ok - after step "${step}":`, err);
  process.exitCode = 1;
} finally {
  await pool.end();
}
