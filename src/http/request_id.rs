//! The id of the request a worker thread is answering, so deep error logs can name it
//! without threading it through every call.

use std::cell::RefCell;

thread_local! {
    static CURRENT: RefCell<String> = const { RefCell::new(String::new()) };
}

/// A short random id for a new request.
pub fn generate() -> String {
    crate::crypto::random_string(12)
}

/// Runs `f` with `id` recorded as this thread's current request id.
pub fn scope<T>(id: &str, f: impl FnOnce() -> T) -> T {
    let previous = CURRENT.with(|c| c.replace(id.to_string()));
    let out = f();
    CURRENT.with(|c| *c.borrow_mut() = previous);
    out
}

/// The current request id, or `-` outside a request.
pub fn current() -> String {
    CURRENT.with(|c| {
        let id = c.borrow();
        if id.is_empty() {
            "-".to_string()
        } else {
            id.clone()
        }
    })
}
