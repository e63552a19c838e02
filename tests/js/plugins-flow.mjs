// Better Auth's official client with its plugin clients against `sesame serve` started with
// SESAME_PLUGINS=bearer,username,open-api: username sign-up / sign-in / availability, and a
// cookie-less client authenticating with the bearer token.
//
// Usage: node plugins-flow.mjs http://127.0.0.1:PORT
import { createAuthClient } from "better-auth/client";
import { browser } from "./browser.mjs";
import { usernameClient } from "better-auth/client/plugins";
import assert from "node:assert/strict";

const baseURL = process.argv[2];
let step = "";
const check = (name) => {
  step = name;
  console.log(`ok - ${name}`);
};

try {
  const { client } = browser(baseURL, [usernameClient()]);
  const uname = `js_${Date.now()}`;
  const up = await client.signUp.email({ name: "U", email: `${uname}@example.com`, password: "correct-horse-battery", username: uname });
  assert.equal(up.error, null, JSON.stringify(up.error));
  assert.equal(up.data.user.username, uname);
  check("signUp.email with username");

  const avail = await client.isUsernameAvailable({ username: uname });
  assert.equal(avail.data.available, false);
  assert.equal((await client.isUsernameAvailable({ username: `${uname}_x` })).data.available, true);
  check("isUsernameAvailable");

  const { client: other } = browser(baseURL, [usernameClient()]);
  const bad = await other.signIn.username({ username: uname, password: "wrong-password" });
  assert.equal(bad.error.code, "INVALID_USERNAME_OR_PASSWORD");
  let bearer = "";
  const inn = await other.signIn.username(
    { username: uname.toUpperCase(), password: "correct-horse-battery" },
    { onSuccess: (ctx) => { bearer = ctx.response.headers.get("set-auth-token"); } },
  );
  assert.equal(inn.error, null, JSON.stringify(inn.error));
  assert.equal(inn.data.user.username, uname);
  assert.ok(bearer, "set-auth-token header");
  check("signIn.username");

  // A client with no cookies at all, authenticated by the bearer token.
  const tokenOnly = createAuthClient({ baseURL, fetchOptions: { auth: { type: "Bearer", token: () => bearer } } });
  const s = await tokenOnly.getSession();
  assert.equal(s.error, null);
  assert.equal(s.data.user.username, uname);
  check("bearer getSession");

  console.log("js plugin clients: all steps passed");
} catch (err) {
  console.error(`not ok - after step "${step}":`, err);
  process.exit(1);
}
