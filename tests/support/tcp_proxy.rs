//! A TCP proxy on 127.0.0.1 that a test can cut and restore, to make PostgreSQL unreachable
//! for one pool without touching the shared server: `cut` closes every proxied connection and
//! makes new ones close at once (the client sees the server go away), `restore` forwards
//! again.

use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct TcpProxy {
    pub addr: SocketAddr,
    state: Arc<State>,
}

struct State {
    up: AtomicBool,
    stop: AtomicBool,
    /// Both ends of every proxied connection, to shut them down on `cut`.
    open: Mutex<Vec<TcpStream>>,
}

impl TcpProxy {
    pub fn start(target: SocketAddr) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy binds");
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State {
            up: AtomicBool::new(true),
            stop: AtomicBool::new(false),
            open: Mutex::new(Vec::new()),
        });
        let st = state.clone();
        std::thread::spawn(move || accept_loop(&listener, target, &st));
        TcpProxy { addr, state }
    }

    /// Drops every open connection and refuses new ones until [`TcpProxy::restore`].
    pub fn cut(&self) {
        self.state.up.store(false, Ordering::SeqCst);
        for s in self.state.open.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    pub fn restore(&self) {
        self.state.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        self.cut();
    }
}

fn accept_loop(listener: &TcpListener, target: SocketAddr, state: &State) {
    while !state.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((client, _)) => {
                if !state.up.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                if let Err(e) = forward(client, target, state) {
                    eprintln!("proxy: {e}");
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => eprintln!("proxy accept: {e}"),
        }
    }
}

fn forward(client: TcpStream, target: SocketAddr, state: &State) -> io::Result<()> {
    client.set_nonblocking(false)?;
    let server = TcpStream::connect_timeout(&target, Duration::from_secs(3))?;
    state
        .open
        .lock()
        .unwrap()
        .extend([client.try_clone()?, server.try_clone()?]);
    pipe(client.try_clone()?, server.try_clone()?);
    pipe(server, client);
    Ok(())
}

/// Copies one direction until either side closes, then closes both.
fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let _ = io::copy(&mut from, &mut to);
        let _ = from.shutdown(Shutdown::Both);
        let _ = to.shutdown(Shutdown::Both);
    });
}
