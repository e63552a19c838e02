//! `App::serve`, as a program's own integration tests use it: a real server on port 0 next to
//! the in-process API on the same app, and a handle whose `stop` (or drop) joins the server's
//! threads and closes the port.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;

use serde_json::json;
use sesame::api;
use sesame::App;

use crate::support::http_client::send;
use crate::support::{Backend, TestApp, PASSWORD};

/// The test app's `App`, owned, and what keeps its database alive (drop it after the server).
fn owned(t: TestApp) -> (App, impl Sized) {
    let TestApp { app, pg, sqlite, .. } = t;
    let app = Arc::try_unwrap(app)
        .ok()
        .expect("the test app's App has no other owner");
    (app, (pg, sqlite))
}

fn port_is_closed(addr: SocketAddr) -> bool {
    TcpStream::connect(addr).is_err()
}

fn served_app_answers_over_http_and_in_process_then_stop_closes_the_port(backend: Backend) {
    let Some(t) = TestApp::try_new(backend) else { return };
    let (app, _database) = owned(t);
    let server = app.serve("127.0.0.1:0").unwrap();
    assert!(server.addr.ip().is_loopback());
    assert_ne!(server.addr.port(), 0, "port 0 is replaced by the bound port");
    assert_eq!(server.url(), format!("http://{}/api/auth", server.addr));

    // Sign up over HTTP...
    let body = json!({"name": "Served", "email": "served@example.com", "password": PASSWORD}).to_string();
    let resp = send(
        server.addr,
        "POST",
        "/api/auth/sign-up/email",
        &[("content-type", "application/json")],
        body.as_bytes(),
    );
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    let user_id = resp.json()["user"]["id"].as_str().unwrap().to_string();
    let cookie = resp
        .set_cookies()
        .iter()
        .map(|c| c.split(';').next().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("; ");
    assert!(cookie.starts_with("better-auth.session_token="), "{cookie}");

    // ...and the same session is found in-process, on the app being served.
    let session = server
        .app()
        .endpoint(&api::GET_SESSION)
        .header("cookie", &cookie)
        .send()
        .unwrap()
        .expect("signed in");
    assert_eq!(session.user.id, user_id);
    let resp = send(server.addr, "GET", "/api/auth/get-session", &[("cookie", &cookie)], b"");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.json()["user"]["id"], user_id.as_str());

    let addr = server.addr;
    server.stop();
    assert!(port_is_closed(addr), "{addr} still accepts connections after stop");
}

#[test]
fn dropping_the_handle_stops_the_server_and_closes_the_port() {
    let (app, _) = owned(TestApp::new(Backend::Memory));
    let server = app.serve("127.0.0.1:0").unwrap();
    let addr = server.addr;
    assert_eq!(send(addr, "GET", "/api/auth/ok", &[], b"").json(), json!({"ok": true}));
    drop(server);
    assert!(port_is_closed(addr), "{addr} still accepts connections after drop");
}

#[test]
fn a_port_in_use_is_an_error_naming_the_address() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let (app, _) = owned(TestApp::new(Backend::Memory));
    let err = app.serve(addr).err().expect("a port in use cannot be served");
    assert!(format!("{err:#}").contains(&format!("binding {addr}")), "{err:#}");
}

#[test]
fn an_address_that_does_not_parse_is_an_error() {
    let (app, _) = owned(TestApp::new(Backend::Memory));
    let err = app.serve("127.0.0.1:99999").err().expect("no such port");
    assert!(
        format!("{err:#}").contains("resolving the address to serve on"),
        "{err:#}"
    );
}

#[test]
fn two_apps_on_port_zero_get_ports_of_their_own() {
    let first = owned(TestApp::new(Backend::Memory)).0.serve("127.0.0.1:0").unwrap();
    let second = owned(TestApp::new(Backend::Memory)).0.serve("127.0.0.1:0").unwrap();
    assert_ne!(first.addr, second.addr);
    assert_eq!(send(second.addr, "GET", "/api/auth/ok", &[], b"").status, 200);
    first.stop();
    assert_eq!(send(second.addr, "GET", "/api/auth/ok", &[], b"").status, 200);
}

crate::backend_suite!(served_app_answers_over_http_and_in_process_then_stop_closes_the_port);
