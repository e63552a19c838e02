// A browser for the JS client tests. Node's fetch keeps no cookies, so each "browser" is a
// fetch with its own cookie jar that also sends the Origin a page on the app would, and follows
// no redirects (the tests look at them). `client` is Better Auth's official client using it.
import { createAuthClient } from "better-auth/client";

// `fetchImpl` replaces Node's fetch (the proxy test connects from a chosen local address).
export function browser(baseURL, plugins = [], { fetchImpl = fetch } = {}) {
  const jar = new Map();
  const open = async (input, init = {}) => {
    const headers = new Headers(init.headers || {});
    if (jar.size) headers.set("cookie", [...jar].map(([k, v]) => `${k}=${v}`).join("; "));
    headers.set("origin", baseURL);
    const res = await fetchImpl(input, { ...init, headers, redirect: "manual" });
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(";");
      const eq = pair.indexOf("=");
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => a.trim().toLowerCase() === "max-age=0");
      if (expired || value === "") jar.delete(name);
      else jar.set(name, value);
    }
    return res;
  };
  const client = createAuthClient({ baseURL, plugins, fetchOptions: { customFetchImpl: open } });
  return { client, jar, open };
}
