// Sesame and Better Auth's magicLink and anonymous plugins on one PostgreSQL database with one
// secret: a magic link either server issued signs in through the other (the verification row is
// shared as Better Auth writes it), and a guest either server made is a guest to the other
// (`isAnonymous`), deletable through Sesame. Better Auth runs in this process (npm
// `better-auth` 1.7.25, `pg`); Sesame is the live server at BASE_URL on DATABASE_URL with
// SESAME_PLUGINS including magic-link and anonymous.
//
// Usage: node passwordless-interop-pg.mjs BASE_URL DATABASE_URL SECRET
import { betterAuth } from "better-auth";
import { anonymous } from "better-auth/plugins/anonymous";
import { magicLink } from "better-auth/plugins/magic-link";
import pg from "pg";
import assert from "node:assert/strict";

const [baseURL, databaseURL, secret] = process.argv.slice(2);
const pool = new pg.Pool({ connectionString: databaseURL, max: 2 });
const baLinks = [];
const auth = betterAuth({
  baseURL: "http://127.0.0.1:1",
  secret,
  database: pool,
  emailAndPassword: { enabled: true },
  plugins: [magicLink({ sendMagicLink: async ({ email, token }) => baLinks.push({ email, token }) }), anonymous()],
  telemetry: { enabled: false },
  logger: { level: "error" },
});
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
  const res = await fetch(`${baseURL}/api/auth${path}`, {
    method: body ? "POST" : "GET",
    headers,
    body: body && JSON.stringify(body),
    redirect: "manual",
  });
  const cookies = res.headers.getSetCookie().map((c) => c.split(";")[0]).filter((c) => !c.endsWith("="));
  const text = await res.text();
  return {
    status: res.status,
    json: text ? JSON.parse(text) : null,
    cookie: cookies.find((c) => c.startsWith("better-auth.session_token=")),
  };
}

const sessionCookie = (headers) =>
  headers
    .getSetCookie()
    .map((c) => c.split(";")[0])
    .find((c) => c.startsWith("better-auth.session_token="));

try {
  const a = `ml-ba-${tag}@example.com`;
  await auth.api.signInMagicLink({ body: { email: a, name: "From BA" }, headers: new Headers() });
  const baToken = baLinks.find((l) => l.email === a).token;
  const opened = await sesame(`/magic-link/verify?token=${baToken}`);
  assert.equal(opened.status, 200, JSON.stringify(opened.json));
  assert.equal(opened.json.user.email, a);
  assert.equal(opened.json.user.name, "From BA");
  assert.equal(opened.json.user.emailVerified, true);
  const again = await sesame(`/magic-link/verify?token=${baToken}`);
  assert.equal(again.status, 302);
  check("a magic link Better Auth issued signs in through Sesame, once");

  const b = `ml-sesame-${tag}@example.com`;
  assert.equal((await sesame("/sign-in/magic-link", { body: { email: b, name: "From Sesame" } })).status, 200);
  const row = await pool.query(`select identifier from verification where value like $1`, [`%"${b}"%`]);
  const sesameToken = row.rows[0].identifier.replace(/^magic-link:/, "");
  const verified = await auth.api.magicLinkVerify({ query: { token: sesameToken }, headers: new Headers() });
  assert.equal(verified.user.email, b);
  assert.equal(verified.user.name, "From Sesame");
  assert.equal(verified.user.emailVerified, true);
  check("a magic link Sesame issued signs in through Better Auth");

  const baGuest = await auth.api.signInAnonymous({ headers: new Headers(), returnHeaders: true });
  const baGuestCookie = sessionCookie(baGuest.headers);
  const seen = await sesame("/get-session", { cookie: baGuestCookie });
  assert.equal(seen.json.user.id, baGuest.response.user.id);
  assert.equal(seen.json.user.isAnonymous, true);
  const refused = await sesame("/sign-in/anonymous", { body: {}, cookie: baGuestCookie });
  assert.equal(refused.json.code, "ANONYMOUS_USERS_CANNOT_SIGN_IN_AGAIN_ANONYMOUSLY");
  const deleted = await sesame("/delete-anonymous-user", { body: {}, cookie: baGuestCookie });
  assert.deepEqual(deleted.json, { success: true });
  assert.equal((await pool.query(`select 1 from "user" where id = $1`, [baGuest.response.user.id])).rowCount, 0);
  check("a guest Better Auth made is a guest to Sesame, which deletes it");

  const sesameGuest = await sesame("/sign-in/anonymous", { body: {} });
  assert.equal(sesameGuest.status, 200);
  const baSees = await auth.api.getSession({ headers: new Headers({ cookie: sesameGuest.cookie }) });
  assert.equal(baSees.user.id, sesameGuest.json.user.id);
  assert.equal(baSees.user.isAnonymous, true);
  assert.match(baSees.user.email, /@anonymous\.placeholder\.invalid$/);
  check("a guest Sesame made is a guest to Better Auth");
  console.log("js passwordless interop: all steps passed");
} catch (err) {
  console.error(`not ok - after step "${step}":`, err);
  process.exitCode = 1;
} finally {
  await pool.end();
}
