// The jwt plugin with Better Auth's official client (`jwtClient()` from
// `better-auth/client/plugins`) against a live Sesame started with SESAME_PLUGINS=jwt:
// `client.token()`, `client.jwks()`, the `set-auth-jwt` header of getSession, and the token
// verified with jose (the library Better Auth itself signs with) against the served JWKS.
//
// Usage: node jwt-client.mjs http://127.0.0.1:PORT
import { createAuthClient } from "better-auth/client";
import { jwtClient } from "better-auth/client/plugins";
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import assert from "node:assert/strict";

const baseURL = process.argv[2];
if (!baseURL) {
  console.error("usage: node jwt-client.mjs BASE_URL");
  process.exit(2);
}
const origin = new URL(baseURL).origin;

let cookie = "";
const fetchImpl = async (input, init = {}) => {
  const headers = new Headers(init.headers || {});
  if (cookie) headers.set("cookie", cookie);
  headers.set("origin", baseURL);
  const res = await fetch(input, { ...init, headers });
  const set = res.headers.getSetCookie().map((c) => c.split(";")[0]);
  if (set.length) cookie = set.join("; ");
  return res;
};
const client = createAuthClient({ baseURL, plugins: [jwtClient()], fetchOptions: { customFetchImpl: fetchImpl } });

let step = "";
const check = (name) => {
  step = name;
  console.log(`ok - ${name}`);
};

try {
  const anon = await client.token();
  assert.equal(anon.data, null);
  assert.equal(anon.error.status, 401);
  check("token() without a session is 401");

  const email = `jwt-${Date.now()}@example.com`;
  const up = await client.signUp.email({ name: "JWT Client", email, password: "correct-horse-battery" });
  assert.equal(up.error, null, JSON.stringify(up.error));

  const jwks = await client.jwks();
  assert.equal(jwks.error, null, JSON.stringify(jwks.error));
  assert.equal(jwks.data.keys.length, 1);
  assert.deepEqual(Object.keys(jwks.data.keys[0]), ["alg", "crv", "x", "kty", "kid"]);
  assert.equal(jwks.data.keys[0].alg, "EdDSA");
  check("jwks()");

  const tok = await client.token();
  assert.equal(tok.error, null, JSON.stringify(tok.error));
  const keySet = createLocalJWKSet(jwks.data);
  const { payload, protectedHeader } = await jwtVerify(tok.data.token, keySet, { issuer: origin, audience: origin });
  assert.equal(protectedHeader.kid, jwks.data.keys[0].kid);
  assert.equal(payload.sub, up.data.user.id);
  assert.equal(payload.email, email);
  assert.equal(payload.exp - payload.iat, 900);
  check("token() verifies against jwks() with jose");

  let header = null;
  const session = await client.getSession({
    fetchOptions: { onSuccess: (ctx) => { header = ctx.response.headers.get("set-auth-jwt"); } },
  });
  assert.equal(session.data.user.email, email);
  assert.ok(header, "set-auth-jwt on getSession");
  assert.equal(decodeProtectedHeader(header).kid, protectedHeader.kid);
  assert.equal((await jwtVerify(header, keySet, { issuer: origin, audience: origin })).payload.sub, up.data.user.id);
  check("getSession carries set-auth-jwt");

  console.log("js jwt client: all steps passed");
} catch (err) {
  console.error(`not ok - after step "${step}":`, err);
  process.exit(1);
}
