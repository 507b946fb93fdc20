//! Board link tokens: generation, hashing and the role a presented token grants.
//! Tokens are 144 random bits, URL-safe base64; only their SHA-256 is stored, and a presented
//! token is matched by comparing hashes in constant time.

use crate::store::BoardMeta;
use base64::Engine;
use journeyboard_shared::Role;
use sha2::{Digest, Sha256};

/// Random bytes per token: 144 bits, comfortably over the 128 the threat model asks for, and
/// a multiple of 3 so the base64 form has no padding.
const TOKEN_BYTES: usize = 18;

/// The three tokens of a new board, in the clear (returned once, at creation).
pub struct BoardTokens {
    pub facilitator: String,
    pub participant: String,
    pub viewer: String,
}

impl BoardTokens {
    /// Draws three fresh tokens from the OS random source.
    pub fn generate() -> Result<Self, getrandom::Error> {
        Ok(BoardTokens {
            facilitator: new_token()?,
            participant: new_token()?,
            viewer: new_token()?,
        })
    }
}

/// One fresh token.
pub fn new_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; TOKEN_BYTES];
    getrandom::fill(&mut bytes)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// SHA-256 of a token, as lowercase hex.
pub fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The role `token` grants on the board described by `meta`, if any.
pub fn role_for(meta: &BoardMeta, token: &str) -> Option<Role> {
    let presented = hash_token(token);
    // Check all three without short-circuiting so timing does not tell which role matched.
    let facilitator = constant_time_eq(&presented, &meta.facilitator_hash);
    let participant = constant_time_eq(&presented, &meta.participant_hash);
    let viewer = constant_time_eq(&presented, &meta.viewer_hash);
    if facilitator {
        Some(Role::Facilitator)
    } else if participant {
        Some(Role::Participant)
    } else if viewer {
        Some(Role::Viewer)
    } else {
        None
    }
}

pub(crate) fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_unique_and_url_safe() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 24);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }

    #[test]
    fn each_token_maps_to_its_role_and_nothing_else_does() {
        let tokens = BoardTokens::generate().unwrap();
        let meta = BoardMeta {
            title: String::new(),
            template: String::new(),
            created_at: 0,
            facilitator_hash: hash_token(&tokens.facilitator),
            participant_hash: hash_token(&tokens.participant),
            viewer_hash: hash_token(&tokens.viewer),
        };
        assert_eq!(
            role_for(&meta, &tokens.facilitator),
            Some(Role::Facilitator)
        );
        assert_eq!(
            role_for(&meta, &tokens.participant),
            Some(Role::Participant)
        );
        assert_eq!(role_for(&meta, &tokens.viewer), Some(Role::Viewer));
        assert_eq!(role_for(&meta, "guess"), None);
        assert_eq!(role_for(&meta, ""), None);
    }
}
