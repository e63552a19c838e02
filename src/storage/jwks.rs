//! The `jwks` table of the jwt plugin (Better Auth's `jwks` model): signing key pairs, the
//! public half as a JWK JSON string and the private half as an encrypted JWK
//! (`plugins::jwt::seal`). Rows are only ever inserted; a key stops signing when it expires.

use time::OffsetDateTime;

use super::StorageResult;

/// One row of `jwks`, with Better Auth's columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jwk {
    /// The key id, published as `kid`.
    pub id: String,
    /// The public JWK as JSON text (`{"crv":"Ed25519","x":"…","kty":"OKP"}`).
    pub public_key: String,
    /// The private JWK, encrypted with a key derived from the secret, as JSON text.
    pub private_key: String,
    pub created_at: OffsetDateTime,
    /// Set only by key rotation; Sesame itself writes `None`.
    pub expires_at: Option<OffsetDateTime>,
    /// `EdDSA`, `ES256`, `RS256`…; `None` in rows Better Auth wrote before it had the column.
    pub alg: Option<String>,
    /// `Ed25519`, `P-256`; `None` for RSA.
    pub crv: Option<String>,
}

pub trait JwksStore {
    /// Inserts a key. `Conflict("jwks.id")` if the id is taken.
    fn create_jwk(&self, jwk: &Jwk) -> StorageResult<()>;
    /// The newest key of this algorithm that has not expired at `now` (ties broken by id).
    /// Rows without an `alg` count as any algorithm, as Better Auth takes them to be of the
    /// configured one.
    fn latest_jwk(&self, alg: &str, now: OffsetDateTime) -> StorageResult<Option<Jwk>>;
    /// Every key, oldest first.
    fn list_jwks(&self) -> StorageResult<Vec<Jwk>>;
}
