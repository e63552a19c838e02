//! The steps of a social sign-in that endpoints share (`/sign-in/social`, `/link-social`,
//! `/callback/:id`, the account endpoints): the flow's state and PKCE verifier
//! ([`state`]), and finding or creating the user and account a provider's answer belongs
//! to ([`link`]). The providers themselves, and every call to them, are in `oauth/`.

pub mod link;
pub mod state;
