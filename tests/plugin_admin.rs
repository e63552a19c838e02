//! The admin plugin over HTTP and in-process: the schema in answers, access control and its
//! refusals, user management, list-users' search/filter/sort/page, bans (sessions end, every
//! sign-in refused, expiring bans lift themselves), session management and impersonation.

use serde_json::{json, Value};
use sesame::clock::Clock;
use sesame::plugins::admin;
use sesame::storage::models::UserUpdate;
use sesame::ApiInput;

use crate::support::{assert_error, cookie_header, json_body, set_cookie, Backend, TestApp, PASSWORD};

fn admin_app(backend: Backend) -> TestApp {
    TestApp::with_config(backend, |c| c.plugins = vec!["admin".into(), "username".into()])
}

/// Signs up a user and gives them a role; their id and cookies.
fn user_with_role(t: &TestApp, email: &str, role: &str) -> (String, String) {
    let (resp, _) = t.sign_up(email);
    let id = json_body(&resp)["user"]["id"].as_str().unwrap().to_string();
    let update = UserUpdate {
        role: Some(Some(role.into())),
        ..UserUpdate::default()
    };
    t.storage().update_user(&id, &update, t.clock.now()).unwrap().unwrap();
    let cookies = cookie_header(&t.sign_in(email, PASSWORD));
    (id, cookies)
}

fn admin_and_user(t: &TestApp) -> (String, String, String, String) {
    let (admin_id, admin) = user_with_role(t, "admin@example.com", "admin");
    let (user_id, user) = user_with_role(t, "user@example.com", "user");
    (admin_id, admin, user_id, user)
}

fn post(t: &TestApp, path: &str, body: Value, cookies: &str) -> sesame::http::Response {
    t.post_with_cookies(path, body, cookies)
}

fn answers_carry_the_admin_fields_only_with_the_plugin(backend: Backend) {
    let t = admin_app(backend);
    let (resp, cookies) = t.sign_up("fields@example.com");
    let user = json_body(&resp)["user"].clone();
    assert_eq!(user["role"], "user");
    assert_eq!(user["banned"], false);
    assert_eq!(user["banReason"], Value::Null);
    assert_eq!(user["banExpires"], Value::Null);
    let keys: Vec<&String> = user.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "name",
            "email",
            "emailVerified",
            "image",
            "createdAt",
            "updatedAt",
            "role",
            "banned",
            "banReason",
            "banExpires",
            "id"
        ]
    );
    let session = json_body(&t.get("/get-session", Some(&cookies)));
    assert_eq!(session["session"]["impersonatedBy"], Value::Null);
    assert_eq!(session["user"]["role"], "user");

    let plain = TestApp::new(backend);
    let (resp, cookies) = plain.sign_up("plain@example.com");
    assert!(json_body(&resp)["user"].get("role").is_none());
    let session = json_body(&plain.get("/get-session", Some(&cookies)));
    assert!(session["session"].get("impersonatedBy").is_none());
    assert_eq!(plain.get("/admin/list-users", Some(&cookies)).status, 404);
}

/// `role`, `banned`, `banReason` and `banExpires` are `input: false`: a user cannot make
/// themselves an admin or lift their ban through sign-up or update-user.
fn users_cannot_set_their_own_role_or_ban(backend: Backend) {
    let t = admin_app(backend);
    for field in ["role", "banned", "banReason", "banExpires"] {
        let mut body = json!({"name": "S", "email": "sneaky@example.com", "password": PASSWORD});
        body[field] = json!("admin");
        let resp = t.post("/sign-up/email", body);
        assert_error(&resp, 400, "FIELD_NOT_ALLOWED");
        assert_eq!(json_body(&resp)["message"], format!("{field} is not allowed to be set"));
    }
    assert!(t.storage().find_user_by_email("sneaky@example.com").unwrap().is_none());
    // A falsy value is ignored, as in Better Auth.
    let resp = t.post(
        "/sign-up/email",
        json!({"name": "S", "email": "sneaky@example.com", "password": PASSWORD, "role": "", "banned": false}),
    );
    assert_eq!(json_body(&resp)["user"]["role"], "user");
    let cookies = cookie_header(&resp);
    for body in [
        json!({"role": "admin"}),
        json!({"name": "x", "banned": true}),
        json!({"banExpires": "2030-01-01"}),
    ] {
        assert_error(&post(&t, "/update-user", body, &cookies), 400, "FIELD_NOT_ALLOWED");
    }
    let row = t.storage().find_user_by_email("sneaky@example.com").unwrap().unwrap();
    assert_eq!(
        (row.name.as_str(), row.admin.role.as_deref(), row.admin.banned),
        ("S", Some("user"), Some(false))
    );
}

fn callers_without_the_permission_are_refused(backend: Backend) {
    let t = admin_app(backend);
    let (admin_id, _, user_id, user) = admin_and_user(&t);
    let posts: [(&str, Value, &str); 11] = [
        (
            "/admin/set-role",
            json!({"userId": admin_id, "role": "user"}),
            "YOU_ARE_NOT_ALLOWED_TO_CHANGE_USERS_ROLE",
        ),
        (
            "/admin/create-user",
            json!({"email": "n@example.com", "name": "N"}),
            "YOU_ARE_NOT_ALLOWED_TO_CREATE_USERS",
        ),
        (
            "/admin/update-user",
            json!({"userId": admin_id, "data": {"name": "x"}}),
            "YOU_ARE_NOT_ALLOWED_TO_UPDATE_USERS",
        ),
        (
            "/admin/list-user-sessions",
            json!({"userId": admin_id}),
            "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS_SESSIONS",
        ),
        (
            "/admin/ban-user",
            json!({"userId": admin_id}),
            "YOU_ARE_NOT_ALLOWED_TO_BAN_USERS",
        ),
        (
            "/admin/unban-user",
            json!({"userId": admin_id}),
            "YOU_ARE_NOT_ALLOWED_TO_BAN_USERS",
        ),
        (
            "/admin/impersonate-user",
            json!({"userId": admin_id}),
            "YOU_ARE_NOT_ALLOWED_TO_IMPERSONATE_USERS",
        ),
        (
            "/admin/revoke-user-session",
            json!({"sessionToken": "x"}),
            "YOU_ARE_NOT_ALLOWED_TO_REVOKE_USERS_SESSIONS",
        ),
        (
            "/admin/revoke-user-sessions",
            json!({"userId": admin_id}),
            "YOU_ARE_NOT_ALLOWED_TO_REVOKE_USERS_SESSIONS",
        ),
        (
            "/admin/remove-user",
            json!({"userId": admin_id}),
            "YOU_ARE_NOT_ALLOWED_TO_DELETE_USERS",
        ),
        (
            "/admin/set-user-password",
            json!({"userId": admin_id, "newPassword": "another-password"}),
            "YOU_ARE_NOT_ALLOWED_TO_SET_USERS_PASSWORD",
        ),
    ];
    for (path, body, code) in &posts {
        assert_error(&post(&t, path, body.clone(), &user), 403, code);
        assert_error(&t.post(path, body.clone()), 401, "UNAUTHORIZED");
    }
    assert_error(
        &t.get("/admin/list-users", Some(&user)),
        403,
        "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS",
    );
    assert_error(&t.get("/admin/list-users", None), 401, "UNAUTHORIZED");
    let get = format!("/admin/get-user?id={admin_id}");
    assert_error(&t.get(&get, Some(&user)), 403, "YOU_ARE_NOT_ALLOWED_TO_GET_USER");
    // A role the caller cannot give themselves through update-user either.
    assert_error(
        &post(
            &t,
            "/admin/update-user",
            json!({"userId": user_id, "data": {"role": "admin"}}),
            &user,
        ),
        403,
        "YOU_ARE_NOT_ALLOWED_TO_UPDATE_USERS",
    );
    // Nothing changed.
    let admin_row = t.storage().find_user_by_id(&admin_id).unwrap().unwrap();
    assert_eq!(admin_row.admin.role.as_deref(), Some("admin"));
    assert_eq!(admin_row.admin.banned, Some(false));
    let user_row = t.storage().find_user_by_id(&user_id).unwrap().unwrap();
    assert_eq!(user_row.admin.role.as_deref(), Some("user"));
}

fn admins_manage_users(backend: Backend) {
    let t = admin_app(backend);
    let (admin_id, admin, _, _) = admin_and_user(&t);
    let resp = post(
        &t,
        "/admin/create-user",
        json!({"email": "New@Example.com", "password": PASSWORD, "name": "New", "role": ["user", "admin"],
               "data": {"emailVerified": true}}),
        &admin,
    );
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    assert!(resp.set_cookies().is_empty(), "create-user signs nobody in");
    let created = json_body(&resp)["user"].clone();
    assert_eq!(created["email"], "new@example.com");
    assert_eq!(created["role"], "user,admin");
    assert_eq!(created["emailVerified"], true);
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(t.sign_in("new@example.com", PASSWORD).status, 200);

    let dup = json!({"email": "new@example.com", "name": "Again"});
    assert_error(
        &post(&t, "/admin/create-user", dup, &admin),
        400,
        "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL",
    );
    let bad = json!({"email": "not-an-address", "name": "X"});
    assert_error(&post(&t, "/admin/create-user", bad, &admin), 400, "INVALID_EMAIL");
    let role = json!({"email": "r@example.com", "name": "R", "role": "superuser"});
    assert_error(
        &post(&t, "/admin/create-user", role, &admin),
        400,
        "YOU_ARE_NOT_ALLOWED_TO_SET_NON_EXISTENT_VALUE",
    );
    let role = json!({"email": "r@example.com", "name": "R", "role": [1]});
    assert_error(&post(&t, "/admin/create-user", role, &admin), 400, "VALIDATION_ERROR");
    // Without a password: no credential account.
    let resp = post(
        &t,
        "/admin/create-user",
        json!({"email": "nopw@example.com", "name": "NoPw"}),
        &admin,
    );
    let nopw = json_body(&resp)["user"]["id"].as_str().unwrap().to_string();
    assert_eq!(json_body(&resp)["user"]["role"], "user");
    assert!(t.storage().list_user_accounts(&nopw).unwrap().is_empty());

    let resp = t.get(&format!("/admin/get-user?id={id}"), Some(&admin));
    assert_eq!(resp.status, 200);
    assert_eq!(json_body(&resp)["email"], "new@example.com");
    assert_error(&t.get("/admin/get-user?id=nobody", Some(&admin)), 404, "USER_NOT_FOUND");

    let upd = |data: Value| post(&t, "/admin/update-user", json!({"userId": id, "data": data}), &admin);
    let resp = upd(json!({"name": "Renamed", "email": "Renamed@Example.com", "unknown": 1}));
    assert_eq!(resp.status, 200);
    assert_eq!(json_body(&resp)["name"], "Renamed");
    assert_eq!(json_body(&resp)["email"], "renamed@example.com");
    assert_error(&upd(json!({})), 400, "NO_DATA_TO_UPDATE");
    assert_error(
        &upd(json!({"password": "x"})),
        400,
        "PASSWORD_CANNOT_BE_UPDATED_VIA_UPDATE_USER",
    );
    assert_error(&upd(json!({"id": "other"})), 400, "USER_ID_CANNOT_BE_UPDATED");
    assert_error(
        &upd(json!({"email": "admin@example.com"})),
        400,
        "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL",
    );
    assert_error(
        &upd(json!({"role": "root"})),
        400,
        "YOU_ARE_NOT_ALLOWED_TO_SET_NON_EXISTENT_VALUE",
    );
    assert_error(&upd(json!({"role": 5})), 400, "INVALID_ROLE_TYPE");
    assert_error(&upd(json!({"emailVerified": "yes"})), 400, "VALIDATION_ERROR");
    assert_error(
        &post(
            &t,
            "/admin/update-user",
            json!({"userId": admin_id, "data": {"banned": true}}),
            &admin,
        ),
        400,
        "YOU_CANNOT_BAN_YOURSELF",
    );
    assert_error(
        &post(
            &t,
            "/admin/update-user",
            json!({"userId": "nobody", "data": {"name": "x"}}),
            &admin,
        ),
        404,
        "USER_NOT_FOUND",
    );

    let resp = post(&t, "/admin/set-role", json!({"userId": id, "role": "user"}), &admin);
    assert_eq!(json_body(&resp)["user"]["role"], "user");
    assert_error(
        &post(&t, "/admin/set-role", json!({"userId": id, "role": "owner"}), &admin),
        400,
        "YOU_ARE_NOT_ALLOWED_TO_SET_NON_EXISTENT_VALUE",
    );
    assert_error(
        &post(
            &t,
            "/admin/set-role",
            json!({"userId": "nobody", "role": "admin"}),
            &admin,
        ),
        404,
        "USER_NOT_FOUND",
    );

    let setpw = |pw: &str| {
        post(
            &t,
            "/admin/set-user-password",
            json!({"userId": id, "newPassword": pw}),
            &admin,
        )
    };
    assert_error(&setpw("short"), 400, "PASSWORD_TOO_SHORT");
    assert_eq!(json_body(&setpw("a-brand-new-password")), json!({"status": true}));
    assert_eq!(t.sign_in("renamed@example.com", "a-brand-new-password").status, 200);
    assert_eq!(t.sign_in("renamed@example.com", PASSWORD).status, 401);
    // A user without a password gets a credential account.
    let resp = post(
        &t,
        "/admin/set-user-password",
        json!({"userId": nopw, "newPassword": PASSWORD}),
        &admin,
    );
    assert_eq!(resp.status, 200);
    assert_eq!(t.sign_in("nopw@example.com", PASSWORD).status, 200);

    assert_error(
        &post(&t, "/admin/remove-user", json!({"userId": admin_id}), &admin),
        400,
        "YOU_CANNOT_REMOVE_YOURSELF",
    );
    let resp = post(&t, "/admin/remove-user", json!({"userId": id}), &admin);
    assert_eq!(json_body(&resp), json!({"success": true}));
    assert!(t.storage().find_user_by_id(&id).unwrap().is_none());
    assert_error(
        &post(&t, "/admin/remove-user", json!({"userId": id}), &admin),
        404,
        "USER_NOT_FOUND",
    );
    // A missing userId names nobody (Better Auth coerces it to "undefined").
    assert_error(
        &post(&t, "/admin/remove-user", json!({}), &admin),
        404,
        "USER_NOT_FOUND",
    );
}

fn list_users_searches_filters_sorts_and_pages(backend: Backend) {
    let t = admin_app(backend);
    let (_, admin, _, _) = admin_and_user(&t);
    for (email, name) in [
        ("carol@example.org", "Carol"),
        ("dave@example.org", "Dave"),
        ("erin@example.com", "Erin Carolina"),
    ] {
        t.clock.advance(time::Duration::seconds(1));
        let resp = post(&t, "/admin/create-user", json!({"email": email, "name": name}), &admin);
        assert_eq!(resp.status, 200);
    }
    let list = |q: &str| {
        let resp = t.get(&format!("/admin/list-users{q}"), Some(&admin));
        assert_eq!(resp.status, 200, "{q}: {}", String::from_utf8_lossy(&resp.body));
        json_body(&resp)
    };
    let emails = |v: &Value| -> Vec<String> {
        v["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["email"].as_str().unwrap().to_string())
            .collect()
    };
    let all = list("");
    assert_eq!(all["total"], 5);
    assert!(all.get("limit").is_none() && all.get("offset").is_none());
    assert_eq!(
        emails(&list("?searchValue=example.org")),
        ["carol@example.org", "dave@example.org"]
    );
    assert_eq!(
        emails(&list("?searchValue=Carol&searchField=name&searchOperator=contains")),
        ["carol@example.org", "erin@example.com"]
    );
    // Case-sensitive, as Better Auth on PostgreSQL and in memory.
    assert_eq!(list("?searchValue=carol&searchField=name")["total"], 0);
    assert_eq!(
        emails(&list("?searchValue=Erin&searchField=name&searchOperator=starts_with")),
        ["erin@example.com"]
    );
    assert_eq!(list("?searchValue=.com&searchOperator=ends_with")["total"], 3);
    assert_eq!(
        emails(&list("?filterField=role&filterValue=admin")),
        ["admin@example.com"]
    );
    assert_eq!(
        list("?filterField=role&filterValue=admin&filterOperator=ne")["total"],
        4
    );
    assert_eq!(list("?filterField=banned&filterValue=false")["total"], 5);
    assert_eq!(
        list("?filterField=email&filterOperator=in&filterValue=dave@example.org&filterValue=erin@example.com")["total"],
        2
    );
    assert_eq!(
        list("?filterField=createdAt&filterOperator=gt&filterValue=2000-01-01")["total"],
        5
    );
    let page = list("?sortBy=email&sortDirection=desc&limit=2&offset=1");
    assert_eq!(emails(&page), ["erin@example.com", "dave@example.org"]);
    assert_eq!(
        (page["total"].clone(), page["limit"].clone(), page["offset"].clone()),
        (json!(5), json!(2), json!(1))
    );
    // Unknown fields and unreadable values: Better Auth's adapter throws and the answer is empty.
    for q in [
        "?sortBy=password",
        "?filterField=password&filterValue=x",
        "?filterField=banned&filterValue=maybe",
    ] {
        assert_eq!(list(q), json!({"users": [], "total": 0}), "{q}");
    }
    assert_error(
        &t.get("/admin/list-users?searchField=role&searchValue=x", Some(&admin)),
        400,
        "VALIDATION_ERROR",
    );
    assert_error(
        &t.get("/admin/list-users?filterOperator=like&filterValue=x", Some(&admin)),
        400,
        "VALIDATION_ERROR",
    );
    // A search value is data, never SQL.
    assert_eq!(list("?searchValue=%27%20or%201%3D1%20--")["total"], 0);
    assert_eq!(list("?searchValue=%25")["total"], 0);
}

fn a_ban_ends_sessions_and_refuses_every_sign_in(backend: Backend) {
    let t = admin_app(backend);
    let (admin_id, admin, user_id, user) = admin_and_user(&t);
    t.storage()
        .update_user(
            &user_id,
            &UserUpdate {
                username: Some("banme".into()),
                ..Default::default()
            },
            t.clock.now(),
        )
        .unwrap();
    assert_error(
        &post(&t, "/admin/ban-user", json!({"userId": admin_id}), &admin),
        400,
        "YOU_CANNOT_BAN_YOURSELF",
    );
    assert_error(
        &post(&t, "/admin/ban-user", json!({"userId": "nobody"}), &admin),
        404,
        "USER_NOT_FOUND",
    );
    let resp = post(
        &t,
        "/admin/ban-user",
        json!({"userId": user_id, "banReason": "spam"}),
        &admin,
    );
    assert_eq!(resp.status, 200);
    let banned = json_body(&resp)["user"].clone();
    assert_eq!(
        (banned["banned"].clone(), banned["banReason"].clone()),
        (json!(true), json!("spam"))
    );
    assert_eq!(banned["banExpires"], Value::Null);
    // The session ended at once.
    assert_eq!(json_body(&t.get("/get-session", Some(&user))), Value::Null);
    assert!(t.storage().list_user_sessions(&user_id).unwrap().is_empty());
    // No sign-in method gets a session.
    let resp = t.sign_in("user@example.com", PASSWORD);
    assert_error(&resp, 403, "BANNED_USER");
    assert_eq!(json_body(&resp)["message"], admin::BANNED_USER_MESSAGE);
    assert!(resp.set_cookies().is_empty());
    let resp = t.post("/sign-in/username", json!({"username": "banme", "password": PASSWORD}));
    assert_error(&resp, 403, "BANNED_USER");
    assert!(t.storage().list_user_sessions(&user_id).unwrap().is_empty());
    // Impersonating a banned user is refused too.
    assert_error(
        &post(&t, "/admin/impersonate-user", json!({"userId": user_id}), &admin),
        403,
        "BANNED_USER",
    );

    let resp = post(&t, "/admin/unban-user", json!({"userId": user_id}), &admin);
    let unbanned = json_body(&resp)["user"].clone();
    assert_eq!(
        (unbanned["banned"].clone(), unbanned["banReason"].clone()),
        (json!(false), Value::Null)
    );
    assert_eq!(t.sign_in("user@example.com", PASSWORD).status, 200);

    // Banning through update-user ends sessions too.
    let resp = post(
        &t,
        "/admin/update-user",
        json!({"userId": user_id, "data": {"banned": true}}),
        &admin,
    );
    assert_eq!(json_body(&resp)["banned"], true);
    assert!(t.storage().list_user_sessions(&user_id).unwrap().is_empty());
    assert_error(&t.sign_in("user@example.com", PASSWORD), 403, "BANNED_USER");
}

fn a_ban_with_an_end_lifts_itself(backend: Backend) {
    let t = admin_app(backend);
    let (_, admin, user_id, _) = admin_and_user(&t);
    let resp = post(
        &t,
        "/admin/ban-user",
        json!({"userId": user_id, "banExpiresIn": 3600}),
        &admin,
    );
    let expires = json_body(&resp)["user"]["banExpires"].as_str().unwrap().to_string();
    assert_eq!(expires, sesame::clock::iso(t.clock.now() + time::Duration::hours(1)));
    assert_eq!(json_body(&resp)["user"]["banReason"], "No reason");
    t.clock.advance(time::Duration::minutes(59));
    assert_error(&t.sign_in("user@example.com", PASSWORD), 403, "BANNED_USER");
    t.clock.advance(time::Duration::minutes(2));
    assert_eq!(t.sign_in("user@example.com", PASSWORD).status, 200);
    let row = t.storage().find_user_by_id(&user_id).unwrap().unwrap();
    assert_eq!(
        (row.admin.banned, row.admin.ban_reason, row.admin.ban_expires),
        (Some(false), None, None)
    );
}

fn admins_list_and_revoke_sessions(backend: Backend) {
    let t = admin_app(backend);
    let (_, admin, user_id, user) = admin_and_user(&t);
    let second = cookie_header(&t.sign_in("user@example.com", PASSWORD));
    let resp = post(&t, "/admin/list-user-sessions", json!({"userId": user_id}), &admin);
    let sessions = json_body(&resp)["sessions"].as_array().unwrap().clone();
    // Sign-up's, the first sign-in's and this one.
    assert_eq!(sessions.len(), 3);
    assert!(sessions
        .iter()
        .all(|s| s["userId"] == user_id.as_str() && s["impersonatedBy"].is_null()));
    let token = sessions[0]["token"].as_str().unwrap().to_string();
    let resp = post(&t, "/admin/revoke-user-session", json!({"sessionToken": token}), &admin);
    assert_eq!(json_body(&resp), json!({"success": true}));
    assert_eq!(t.storage().list_user_sessions(&user_id).unwrap().len(), 2);
    let resp = post(&t, "/admin/revoke-user-sessions", json!({"userId": user_id}), &admin);
    assert_eq!(json_body(&resp), json!({"success": true}));
    assert_eq!(json_body(&t.get("/get-session", Some(&user))), Value::Null);
    assert_eq!(json_body(&t.get("/get-session", Some(&second))), Value::Null);
}

fn impersonation_is_marked_short_and_restores_the_admin_session(backend: Backend) {
    let t = admin_app(backend);
    let (admin_id, admin, user_id, user) = admin_and_user(&t);
    let (other_admin, _) = user_with_role(&t, "admin2@example.com", "user,admin");
    assert_error(
        &post(&t, "/admin/impersonate-user", json!({"userId": other_admin}), &admin),
        403,
        "YOU_CANNOT_IMPERSONATE_ADMINS",
    );
    assert_error(
        &post(&t, "/admin/impersonate-user", json!({"userId": "nobody"}), &admin),
        404,
        "USER_NOT_FOUND",
    );
    assert_error(
        &post(&t, "/admin/stop-impersonating", json!({}), &admin),
        400,
        "NOT_IMPERSONATING",
    );

    let resp = post(&t, "/admin/impersonate-user", json!({"userId": user_id}), &admin);
    assert_eq!(resp.status, 200);
    let body = json_body(&resp);
    assert_eq!(body["session"]["impersonatedBy"], admin_id.as_str());
    assert_eq!(body["session"]["userId"], user_id.as_str());
    assert_eq!(
        body["session"]["expiresAt"],
        sesame::clock::iso(t.clock.now() + time::Duration::hours(1)).as_str()
    );
    assert_eq!(body["user"]["id"], user_id.as_str());
    let admin_cookie = set_cookie(&resp, "better-auth.admin_session").unwrap();
    assert!(admin_cookie.contains("HttpOnly"));
    assert!(!set_cookie(&resp, "better-auth.session_token")
        .unwrap()
        .contains("Max-Age"));
    let as_user = cookie_header(&resp);
    assert!(as_user.contains("better-auth.admin_session="));
    let me = json_body(&t.get("/get-session", Some(&as_user)));
    assert_eq!(me["user"]["id"], user_id.as_str());
    assert_eq!(me["session"]["impersonatedBy"], admin_id.as_str());
    // The user's own list does not show the admin's session as them.
    let own = json_body(&t.get("/list-sessions", Some(&user)));
    // (sign-up's and sign-in's; the impersonation's is hidden)
    assert_eq!(own.as_array().unwrap().len(), 2);
    assert!(own.as_array().unwrap().iter().all(|s| s["impersonatedBy"].is_null()));
    // An impersonation cannot impersonate further.
    assert_error(
        &post(&t, "/admin/impersonate-user", json!({"userId": admin_id}), &as_user),
        403,
        "YOU_ARE_NOT_ALLOWED_TO_IMPERSONATE_USERS",
    );
    // Without the admin cookie there is nothing to restore.
    let bare: Vec<&str> = as_user.split("; ").filter(|c| !c.contains("admin_session")).collect();
    let bare = bare.join("; ");
    assert_error(
        &post(&t, "/admin/stop-impersonating", json!({}), &bare),
        400,
        "ADMIN_SESSION_NOT_FOUND",
    );

    let resp = post(&t, "/admin/stop-impersonating", json!({}), &as_user);
    assert_eq!(resp.status, 200);
    let back = json_body(&resp);
    assert_eq!(back["user"]["id"], admin_id.as_str());
    assert!(set_cookie(&resp, "better-auth.admin_session")
        .unwrap()
        .contains("Max-Age=0"));
    let restored = cookie_header(&resp);
    assert_eq!(
        json_body(&t.get("/get-session", Some(&restored)))["user"]["id"],
        admin_id.as_str()
    );
    // The impersonation session is gone.
    assert!(t
        .storage()
        .list_user_sessions(&user_id)
        .unwrap()
        .iter()
        .all(|s| s.impersonated_by.is_none()));

    // It never outlives its hour.
    let resp = post(&t, "/admin/impersonate-user", json!({"userId": user_id}), &admin);
    let as_user = cookie_header(&resp);
    t.clock.advance(time::Duration::minutes(61));
    assert_eq!(json_body(&t.get("/get-session", Some(&as_user))), Value::Null);
}

fn has_permission_answers_per_role(backend: Backend) {
    let t = admin_app(backend);
    let (_, admin, user_id, user) = admin_and_user(&t);
    let check = |cookies: &str, body: Value| json_body(&post(&t, "/admin/has-permission", body, cookies));
    let list = json!({"permissions": {"user": ["list"], "session": ["revoke"]}});
    assert_eq!(check(&admin, list.clone()), json!({"error": null, "success": true}));
    assert_eq!(check(&user, list.clone())["success"], false);
    // The caller's own session decides over a role in the body.
    assert_eq!(
        check(&user, json!({"role": "admin", "permissions": {"user": ["list"]}}))["success"],
        false
    );
    assert_eq!(
        check(&admin, json!({"permissions": {"user": ["impersonate-admins"]}}))["success"],
        false
    );
    assert_error(&t.post("/admin/has-permission", list.clone()), 401, "UNAUTHORIZED");
    assert_error(
        &post(
            &t,
            "/admin/has-permission",
            json!({"permission": {"user": ["list"]}}),
            &admin,
        ),
        400,
        "INVALID_PERMISSION_CHECK",
    );
    assert_error(
        &post(&t, "/admin/has-permission", json!({}), &admin),
        400,
        "VALIDATION_ERROR",
    );

    // Server-side calls (no headers) name a role or a user.
    let call = |body: Value| t.app.call("userHasPermission", ApiInput::new().body(body));
    assert_eq!(
        call(json!({"role": "admin", "permissions": {"user": ["ban"]}})).unwrap()["success"],
        true
    );
    assert_eq!(
        call(json!({"userId": user_id, "permissions": {"user": ["ban"]}})).unwrap()["success"],
        false
    );
    assert_eq!(
        call(json!({"permissions": {"user": ["ban"]}})).unwrap_err().code,
        "USER_ID_OR_ROLE_REQUIRED"
    );
    assert_eq!(
        call(json!({"userId": "nobody", "permissions": {"user": ["ban"]}}))
            .unwrap_err()
            .code,
        "PERMISSION_USER_NOT_FOUND"
    );
}

fn admin_user_ids_have_every_permission(backend: Backend) {
    let t = TestApp::with_config(backend, |c| {
        c.plugins = vec!["admin".into()];
        c.admin.user_ids = vec!["root-user-id".into()];
    });
    let mut root = sesame::storage::models::User::new("Root", "root@example.com", None, t.clock.now());
    root.id = "root-user-id".into();
    root.admin.role = Some("user".into());
    let hash = sesame::auth::password::hash(PASSWORD, t.app.config.password_hash, t.app.config.bcrypt_cost).unwrap();
    let account = sesame::storage::models::Account::credential(&root.id, hash, t.clock.now());
    t.storage().create_user_with_account(&root, &account).unwrap();
    let root_cookies = cookie_header(&t.sign_in("root@example.com", PASSWORD));
    let (_, user) = user_with_role(&t, "user@example.com", "user");
    assert_eq!(t.get("/admin/list-users", Some(&root_cookies)).status, 200);
    // Counted as an admin: not impersonated by an admin role.
    let (_, admin) = user_with_role(&t, "admin@example.com", "admin");
    assert_error(
        &post(&t, "/admin/impersonate-user", json!({"userId": "root-user-id"}), &admin),
        403,
        "YOU_CANNOT_IMPERSONATE_ADMINS",
    );
    assert_eq!(t.get("/admin/list-users", Some(&user)).status, 403);
}

fn the_in_process_api_manages_users(backend: Backend) {
    let t = admin_app(backend);
    let (_, admin, user_id, _) = admin_and_user(&t);
    // A server call without headers may create users (Better Auth: no session needed).
    let created = t
        .app
        .endpoint(&admin::CREATE_USER)
        .body(admin::CreateUserBody {
            email: "server@example.com".into(),
            name: "Server".into(),
            password: Some(PASSWORD.into()),
            role: Some(json!("admin")),
            ..Default::default()
        })
        .send()
        .unwrap();
    assert_eq!(created.user.email, "server@example.com");
    assert_eq!(created.user.extra["role"], "admin");
    // Other endpoints need a session, as Better Auth's adminMiddleware.
    let err = t.app.endpoint(&admin::LIST_USERS).send().unwrap_err();
    assert_eq!((err.status, err.code.as_ref()), (401, "UNAUTHORIZED"));
    let list = t
        .app
        .endpoint(&admin::LIST_USERS)
        .header("cookie", &admin)
        .send()
        .unwrap();
    assert_eq!(list.total, 3);
    let banned = t
        .app
        .call(
            "banUser",
            ApiInput::new()
                .header("cookie", &admin)
                .body(json!({"userId": user_id, "banReason": "abuse"})),
        )
        .unwrap();
    assert_eq!(banned["user"]["banReason"], "abuse");
    let err = t
        .app
        .call(
            "signInEmail",
            ApiInput::new().body(json!({"email": "user@example.com", "password": PASSWORD})),
        )
        .unwrap_err();
    assert_eq!((err.status, err.code.as_ref()), (403, "BANNED_USER"));
    let sessions = t
        .app
        .endpoint(&admin::LIST_USER_SESSIONS)
        .header("cookie", &admin)
        .body(admin::UserIdBody {
            user_id: Some(json!(user_id)),
        })
        .send()
        .unwrap();
    assert!(sessions.sessions.is_empty());
    // With headers but no session, create-user is refused.
    let err = t
        .app
        .call(
            "createUser",
            ApiInput::new()
                .header("cookie", "x=y")
                .body(json!({"email": "h@example.com", "name": "H"})),
        )
        .unwrap_err();
    assert_eq!(err.status, 401);
}

/// Better Auth refuses a banned user's session before its two-factor hook answers with a
/// challenge: a banned user with TOTP on gets 403, never a second-factor prompt.
fn a_banned_user_with_two_factor_gets_no_challenge(backend: Backend) {
    use crate::support::two_factor;
    let t = TestApp::with_config(backend, |c| c.plugins = vec!["two-factor".into(), "admin".into()]);
    let (mut ada, _key, _codes) = two_factor::with_totp(&t);
    let ada_id = ada.session_user()["id"].as_str().unwrap().to_string();
    let resp = ada.sign_in();
    assert_eq!(json_body(&resp)["twoFactorRedirect"], true, "TOTP is on");
    let (_, admin) = user_with_role(&t, "admin@example.com", "admin");
    let resp = post(&t, "/admin/ban-user", json!({"userId": ada_id}), &admin);
    assert_eq!(json_body(&resp)["user"]["twoFactorEnabled"], true);
    let mut fresh = two_factor::Client::new(&t);
    let resp = fresh.sign_in();
    assert_error(&resp, 403, "BANNED_USER");
    assert!(!fresh.has("two_factor"), "no challenge cookie for a banned user");
}

/// Better Auth has no last-admin rule beyond "not yourself" for bans and removal: the only
/// admin may demote themselves, and is then refused like anyone else (`sesame user set-role`
/// restores an admin). In-process calls meet the same refusals as typed errors.
fn the_last_admin_may_demote_themselves_as_in_better_auth(backend: Backend) {
    let t = admin_app(backend);
    let (admin_id, admin, _, user) = admin_and_user(&t);
    let ban_self = t.app.call(
        "banUser",
        ApiInput::new()
            .header("cookie", &admin)
            .body(json!({"userId": admin_id})),
    );
    assert_eq!(ban_self.unwrap_err().code, "YOU_CANNOT_BAN_YOURSELF");
    let remove_self = t.app.call(
        "removeUser",
        ApiInput::new()
            .header("cookie", &admin)
            .body(json!({"userId": admin_id})),
    );
    assert_eq!(remove_self.unwrap_err().code, "YOU_CANNOT_REMOVE_YOURSELF");
    let err = t
        .app
        .endpoint(&admin::LIST_USERS)
        .header("cookie", &user)
        .send()
        .unwrap_err();
    assert_eq!(
        (err.status, err.code.as_ref()),
        (403, "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS")
    );
    let err = t
        .app
        .call(
            "impersonateUser",
            ApiInput::new()
                .header("cookie", &user)
                .body(json!({"userId": admin_id})),
        )
        .unwrap_err();
    assert_eq!(
        (err.status, err.code.as_ref()),
        (403, "YOU_ARE_NOT_ALLOWED_TO_IMPERSONATE_USERS")
    );

    let demoted = t
        .app
        .call(
            "setRole",
            ApiInput::new()
                .header("cookie", &admin)
                .body(json!({"userId": admin_id, "role": "user"})),
        )
        .unwrap();
    assert_eq!(demoted["user"]["role"], "user");
    assert_error(
        &t.get("/admin/list-users", Some(&admin)),
        403,
        "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS",
    );
    let restored = admin::ops::set_role(t.storage(), &admin_id, "admin".into(), t.clock.now()).unwrap();
    assert_eq!(restored.admin.role.as_deref(), Some("admin"));
    assert_eq!(t.get("/admin/list-users", Some(&admin)).status, 200);
}

crate::backend_suite!(
    the_last_admin_may_demote_themselves_as_in_better_auth,
    users_cannot_set_their_own_role_or_ban,
    a_banned_user_with_two_factor_gets_no_challenge,
    answers_carry_the_admin_fields_only_with_the_plugin,
    callers_without_the_permission_are_refused,
    admins_manage_users,
    list_users_searches_filters_sorts_and_pages,
    a_ban_ends_sessions_and_refuses_every_sign_in,
    a_ban_with_an_end_lifts_itself,
    admins_list_and_revoke_sessions,
    impersonation_is_marked_short_and_restores_the_admin_session,
    has_permission_answers_per_role,
    admin_user_ids_have_every_permission,
    the_in_process_api_manages_users,
);

/// The columns Better Auth's admin plugin adds, as its migration writes them, and a banned
/// admin impersonating someone in its rows: Sesame's admin migration keeps them as they are.
fn better_auth_admin_rows(fixture: &Value, sql: &mut dyn FnMut(&str)) {
    let id = fixture["userId"].as_str().unwrap();
    let token = fixture["sessionToken"].as_str().unwrap();
    sql(&format!(
        r#"update "user" set "role" = 'admin,user', "banned" = {}, "banReason" = 'spam',
               "banExpires" = {} where "id" = '{id}'"#,
        if fixture["pg"] == true { "true" } else { "1" },
        "'2099-01-01T00:00:00.000Z'",
    ));
    sql(&format!(
        r#"update "session" set "impersonatedBy" = 'some-admin' where "token" = '{token}'"#
    ));
}

fn assert_taken_over(t: &TestApp, fixture: &Value) {
    let id = fixture["userId"].as_str().unwrap();
    let user = t.storage().find_user_by_id(id).unwrap().unwrap();
    assert_eq!(user.admin.role.as_deref(), Some("admin,user"));
    assert_eq!(user.admin.banned, Some(true));
    assert_eq!(user.admin.ban_reason.as_deref(), Some("spam"));
    assert_eq!(
        sesame::clock::iso(user.admin.ban_expires.unwrap()),
        "2099-01-01T00:00:00.000Z"
    );
    let (session, _) = t
        .storage()
        .find_session_with_user(fixture["sessionToken"].as_str().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(session.impersonated_by.as_deref(), Some("some-admin"));
    // The ban Better Auth wrote holds.
    assert_error(
        &t.sign_in(
            fixture["email"].as_str().unwrap(),
            fixture["password"].as_str().unwrap(),
        ),
        403,
        "BANNED_USER",
    );
}

fn taken_over_config(fixture: &Value) -> sesame::Config {
    let mut config = sesame::Config::for_tests();
    config.secret = sesame::config::Secret::new(fixture["secret"].as_str().unwrap());
    config.plugins = vec!["admin".into()];
    config
}

#[test]
fn a_better_auth_sqlite_database_with_the_admin_plugin_is_taken_over() {
    let fixture: Value = serde_json::from_str(include_str!("../fixtures/better-auth-sqlite.json")).unwrap();
    let file = crate::support::sqlite::SqliteFile::copy_of(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/better-auth.sqlite"),
    );
    let conn = file.conn();
    // Better Auth's migration generator on better-sqlite3.
    conn.execute_batch(
        r#"alter table "user" add column "role" text;
           alter table "user" add column "banned" integer;
           alter table "user" add column "banReason" text;
           alter table "user" add column "banExpires" date;
           alter table "session" add column "impersonatedBy" text;"#,
    )
    .unwrap();
    better_auth_admin_rows(&fixture, &mut |sql| {
        conn.execute_batch(sql).unwrap();
    });
    drop(conn);
    let t = TestApp::on_sqlite_file(file, taken_over_config(&fixture));
    assert_taken_over(&t, &fixture);
}

#[test]
fn a_better_auth_postgres_database_with_the_admin_plugin_is_taken_over() {
    let Some(schema) = crate::support::postgres::PgSchema::create() else {
        return;
    };
    let mut fixture: Value = serde_json::from_str(include_str!("../fixtures/better-auth-pg.json")).unwrap();
    fixture["pg"] = json!(true);
    let mut client = schema.client();
    client
        .batch_execute(include_str!("../fixtures/better-auth-pg.sql"))
        .unwrap();
    // Better Auth's own migration (`getMigrations`) for the admin plugin.
    client
        .batch_execute(
            r#"ALTER TABLE "user" ADD COLUMN "role" text;
               ALTER TABLE "user" ADD COLUMN "banned" boolean;
               ALTER TABLE "user" ADD COLUMN "banReason" text;
               ALTER TABLE "user" ADD COLUMN "banExpires" timestamptz;
               ALTER TABLE "session" ADD COLUMN "impersonatedBy" text;"#,
        )
        .unwrap();
    better_auth_admin_rows(&fixture, &mut |sql| client.batch_execute(sql).unwrap());
    drop(client);
    let t = TestApp::on_schema(schema, taken_over_config(&fixture));
    assert_taken_over(&t, &fixture);
}
