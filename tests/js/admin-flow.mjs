// Better Auth's official client with `adminClient()` against `sesame serve` started with
// SESAME_PLUGINS=admin, whose first admin was made with `sesame user create --role admin`: a
// tour of every admin endpoint, the refusals a non-admin meets, a ban refusing sign-in, and
// impersonation and its end.
//
// Usage: node admin-flow.mjs http://127.0.0.1:PORT ADMIN_EMAIL ADMIN_PASSWORD
import { adminClient } from "better-auth/client/plugins";
import { browser } from "./browser.mjs";
import assert from "node:assert/strict";

const [baseURL, adminEmail, adminPassword] = process.argv.slice(2);
let step = "";
const check = (name) => {
  step = name;
  console.log(`ok - ${name}`);
};
const ok = (res) => {
  assert.equal(res.error, null, JSON.stringify(res.error));
  return res.data;
};

try {
  const { client: admin } = browser(baseURL, [adminClient()]);
  const me = ok(await admin.signIn.email({ email: adminEmail, password: adminPassword }));
  assert.equal(me.user.role, "admin");
  check("the first admin (made by `sesame user create --role admin`) signs in");

  const email = `js_admin_${Date.now()}@example.com`;
  const created = ok(
    await admin.admin.createUser({ email, password: "correct-horse-battery", name: "Target", role: "user" }),
  );
  const id = created.user.id;
  assert.equal(created.user.role, "user");
  assert.equal(created.user.banned, false);
  check("admin.createUser");

  const list = ok(await admin.admin.listUsers({ query: { searchValue: email, searchField: "email", limit: 10 } }));
  assert.equal(list.total, 1);
  assert.equal(list.users[0].id, id);
  assert.equal(list.limit, 10);
  const sorted = ok(await admin.admin.listUsers({ query: { sortBy: "createdAt", sortDirection: "desc", filterField: "role", filterValue: "user" } }));
  assert.ok(sorted.users.every((u) => u.role === "user"));
  check("admin.listUsers (search, filter, sort, limit)");

  assert.equal(ok(await admin.admin.getUser({ query: { id } })).email, email);
  assert.equal(ok(await admin.admin.updateUser({ userId: id, data: { name: "Renamed" } })).name, "Renamed");
  assert.equal(ok(await admin.admin.setRole({ userId: id, role: ["user", "admin"] })).user.role, "user,admin");
  assert.equal(ok(await admin.admin.setRole({ userId: id, role: "user" })).user.role, "user");
  assert.equal(ok(await admin.admin.setUserPassword({ userId: id, newPassword: "another-horse-battery" })).status, true);
  check("admin.getUser / updateUser / setRole / setUserPassword");

  const { client: target } = browser(baseURL, [adminClient()]);
  ok(await target.signIn.email({ email, password: "another-horse-battery" }));
  const refused = await target.admin.listUsers({ query: {} });
  assert.equal(refused.error.status, 403);
  assert.equal(refused.error.code, "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS");
  assert.equal((await target.admin.banUser({ userId: me.user.id })).error.code, "YOU_ARE_NOT_ALLOWED_TO_BAN_USERS");
  assert.equal(ok(await target.admin.hasPermission({ permissions: { user: ["list"] } })).success, false);
  assert.equal(ok(await admin.admin.hasPermission({ permissions: { user: ["list"], session: ["revoke"] } })).success, true);
  assert.equal(admin.admin.checkRolePermission({ role: "admin", permissions: { user: ["ban"] } }), true);
  check("a non-admin is refused; hasPermission / checkRolePermission");

  const sessions = ok(await admin.admin.listUserSessions({ userId: id })).sessions;
  assert.equal(sessions.length, 1);
  assert.equal(sessions[0].impersonatedBy, null);
  check("admin.listUserSessions");

  const imp = ok(await admin.admin.impersonateUser({ userId: id }));
  assert.equal(imp.session.impersonatedBy, me.user.id);
  assert.equal(ok(await admin.getSession()).user.id, id);
  assert.equal((await admin.admin.impersonateUser({ userId: me.user.id })).error.status, 403);
  const back = ok(await admin.admin.stopImpersonating());
  assert.equal(back.user.id, me.user.id);
  assert.equal(ok(await admin.getSession()).user.id, me.user.id);
  assert.equal((await admin.admin.impersonateUser({ userId: me.user.id })).error.code, "YOU_CANNOT_IMPERSONATE_ADMINS");
  check("admin.impersonateUser / stopImpersonating");

  const banned = ok(await admin.admin.banUser({ userId: id, banReason: "spam", banExpiresIn: 3600 }));
  assert.equal(banned.user.banned, true);
  assert.equal(banned.user.banReason, "spam");
  assert.equal(ok(await target.getSession()), null);
  const again = await target.signIn.email({ email, password: "another-horse-battery" });
  assert.equal(again.error.status, 403);
  assert.equal(again.error.code, "BANNED_USER");
  assert.equal((await admin.admin.banUser({ userId: me.user.id })).error.code, "YOU_CANNOT_BAN_YOURSELF");
  assert.equal(ok(await admin.admin.unbanUser({ userId: id })).user.banned, false);
  ok(await target.signIn.email({ email, password: "another-horse-battery" }));
  check("admin.banUser ends sessions and refuses sign-in; unbanUser");

  const token = ok(await admin.admin.listUserSessions({ userId: id })).sessions[0].token;
  assert.equal(ok(await admin.admin.revokeUserSession({ sessionToken: token })).success, true);
  ok(await target.signIn.email({ email, password: "another-horse-battery" }));
  assert.equal(ok(await admin.admin.revokeUserSessions({ userId: id })).success, true);
  assert.equal(ok(await target.getSession()), null);
  check("admin.revokeUserSession / revokeUserSessions");

  assert.equal((await admin.admin.removeUser({ userId: me.user.id })).error.code, "YOU_CANNOT_REMOVE_YOURSELF");
  assert.equal(ok(await admin.admin.removeUser({ userId: id })).success, true);
  assert.equal((await admin.admin.getUser({ query: { id } })).error.status, 404);
  check("admin.removeUser");

  console.log("js admin client: all steps passed");
} catch (err) {
  console.error(`not ok - after step "${step}":`, err);
  process.exit(1);
}
