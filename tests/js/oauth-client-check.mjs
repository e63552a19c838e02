// Manual check (not part of `cargo test`): Better Auth's official JS client against
// `sesame serve` with a generic OIDC provider served by npm `oauth2-mock-server`.
// Run from a folder whose node_modules has better-auth and oauth2-mock-server (the
// reference's, after `npm ci`), with Sesame started as:
//   PORT=3301 BETTER_AUTH_URL=http://127.0.0.1:3301 SESAME_OIDC_PROVIDERS=mock \
//   SESAME_OIDC_MOCK_ISSUER=http://127.0.0.1:3998 SESAME_OIDC_MOCK_CLIENT_ID=harness-client \
//   SESAME_OIDC_MOCK_CLIENT_SECRET=harness-secret sesame serve
import { OAuth2Server } from "oauth2-mock-server";
import { createAuthClient } from "better-auth/client";

const SESAME = process.env.SESAME || "http://127.0.0.1:3301";
const server = new OAuth2Server();
await server.issuer.keys.generate("RS256");
server.service.on("beforeTokenSigning", (token) => {
  token.payload.email = "js-client@example.com";
  token.payload.email_verified = true;
  token.payload.name = "JS Client";
});
server.service.on("beforeUserinfo", (res) => {
  res.body = { sub: "johndoe", email: "js-client@example.com", email_verified: true, name: "JS Client" };
});
await server.start(3998, "127.0.0.1");

// A tiny cookie jar: the browser's part.
const jar = new Map();
function store(res) {
  for (const c of res.headers.getSetCookie()) {
    const [pair] = c.split(";");
    const [k, v] = pair.split("=");
    if (/Max-Age=0/.test(c)) jar.delete(k); else jar.set(k, v);
  }
}
const cookieHeader = () => [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
const fetchImpl = async (input, init = {}) => {
  const headers = new Headers(init.headers);
  if (jar.size) headers.set("cookie", cookieHeader());
  headers.set("origin", SESAME);
  const res = await fetch(input, { ...init, headers, redirect: "manual" });
  store(res);
  return res;
};
const client = createAuthClient({ baseURL: SESAME, fetchOptions: { customFetchImpl: fetchImpl } });

const { data, error } = await client.signIn.social({ provider: "mock", callbackURL: "/dashboard", disableRedirect: true });
if (error) throw new Error("signIn.social: " + JSON.stringify(error));
console.log("signIn.social ->", { redirect: data.redirect, urlHost: new URL(data.url).host });
// The browser visits the provider, which redirects straight back with a code.
const authz = await fetch(data.url, { redirect: "manual" });
const back = authz.headers.get("location");
console.log("provider redirect ->", back.split("?")[0]);
const cb = await fetchImpl(back);
console.log("callback ->", cb.status, cb.headers.get("location"));
const session = await client.getSession();
console.log("getSession ->", session.data?.user?.email, session.data?.user?.emailVerified);
const accounts = await client.listAccounts();
console.log("listAccounts ->", accounts.data?.map((a) => [a.providerId, a.accountId, a.issuer]));
const tok = await client.getAccessToken({ accountId: accounts.data[0].id });
console.log("getAccessToken ->", tok.data ? Object.keys(tok.data) : tok.error);
const out = await client.signOut();
console.log("signOut ->", out.data);
await server.stop();
