//! Request ids: a short random id per request, carried on the request's log span
//! (`server/mod.rs`), so every line logged while answering it names it.

/// A short random id for a new request.
pub fn generate() -> String {
    crate::crypto::random_string(12)
}
