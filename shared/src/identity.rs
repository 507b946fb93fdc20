//! Who wrote what. Each browser keeps a random secret; its public id is a hash of it. The
//! public id is written into the notes and scores a person creates; the secret is presented
//! only to the server (`&u=` on the WebSocket URL), which derives the id itself. So a
//! participant can prove a note is theirs, and cannot claim someone else's by copying the
//! public id out of the document.

use sha2::{Digest, Sha256};

/// Hex characters of the public id: 128 bits, plenty to never collide.
const PUBLIC_ID_HEX: usize = 32;

/// The public id for a secret.
pub fn public_id(secret: &str) -> String {
    let digest = Sha256::digest(format!("journeyboard-user:{secret}").as_bytes());
    digest
        .iter()
        .flat_map(|b| [b >> 4, b & 0xf])
        .take(PUBLIC_ID_HEX)
        .map(|nibble| char::from_digit(nibble as u32, 16).expect("nibble"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_ids_are_stable_distinct_and_do_not_reveal_the_secret() {
        let a = public_id("secret-a");
        assert_eq!(a, public_id("secret-a"));
        assert_ne!(a, public_id("secret-b"));
        assert_eq!(a.len(), 32);
        assert!(!a.contains("secret"));
    }
}
