//! The y-websocket wire format, as far as the load clients need it: varints, the sync
//! messages they send, and the header of a v1 update (which identifies a send).

use anyhow::{anyhow, bail};
use yrs::updates::encoder::Encode;
use yrs::StateVector;

/// The header of a v1 update: the first struct group's client and start clock. Enough to
/// tell which send it is, without decoding the rest.
pub fn update_key(update: &[u8]) -> Option<(u64, u32)> {
    let mut r = Reader(update);
    let groups = r.var().ok()?;
    if groups == 0 {
        return None;
    }
    let _structs = r.var().ok()?;
    let client = r.var().ok()?;
    let clock = r.var().ok()?;
    Some((client, clock as u32))
}

pub struct Reader<'a>(pub &'a [u8]);

impl<'a> Reader<'a> {
    pub fn var(&mut self) -> anyhow::Result<u64> {
        let mut value = 0u64;
        let mut shift = 0;
        loop {
            let (&byte, rest) = self.0.split_first().ok_or_else(|| anyhow!("truncated"))?;
            self.0 = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
            shift += 7;
            if shift > 63 {
                bail!("varint too long");
            }
        }
    }

    pub fn bytes(&mut self) -> anyhow::Result<&'a [u8]> {
        let len = self.var()? as usize;
        if self.0.len() < len {
            bail!("truncated");
        }
        let (bytes, rest) = self.0.split_at(len);
        self.0 = rest;
        Ok(bytes)
    }
}

pub fn write_var(buf: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        buf.push((value as u8) | 0x80);
        value >>= 7;
    }
    buf.push(value as u8);
}

pub fn message(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0, kind];
    write_var(&mut frame, payload.len() as u64);
    frame.extend_from_slice(payload);
    frame
}

pub fn step1(sv: &StateVector) -> Vec<u8> {
    message(0, &sv.encode_v1())
}

pub fn step2(update: &[u8]) -> Vec<u8> {
    message(1, update)
}

pub fn update_frame(update: &[u8]) -> Vec<u8> {
    message(2, update)
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::{Doc, GetString, Text, Transact};

    #[test]
    fn varints_read_back_what_was_written() {
        for value in [0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX >> 1] {
            let mut buf = Vec::new();
            write_var(&mut buf, value);
            assert_eq!(Reader(&buf).var().unwrap(), value);
        }
        assert!(Reader(&[0x80]).var().is_err(), "truncated");
    }

    #[test]
    fn an_updates_key_is_its_first_client_and_clock() {
        let doc = Doc::with_client_id(42);
        let text = doc.get_or_insert_text("t");
        let first = {
            let mut txn = doc.transact_mut();
            text.insert(&mut txn, 0, "abc");
            txn.encode_update_v1()
        };
        let second = {
            let mut txn = doc.transact_mut();
            text.insert(&mut txn, 3, "d");
            txn.encode_update_v1()
        };
        assert_eq!(text.get_string(&doc.transact()), "abcd");
        assert_eq!(update_key(&first), Some((42, 0)));
        assert_eq!(update_key(&second), Some((42, 3)));
        assert_eq!(update_key(&[0, 0]), None, "an empty update has no key");
    }

    #[test]
    fn a_sync_message_is_framed_with_its_kind_and_length() {
        let frame = update_frame(&[7, 8, 9]);
        assert_eq!(frame, [0, 2, 3, 7, 8, 9]);
        let mut r = Reader(&frame[2..]);
        assert_eq!(r.bytes().unwrap(), [7, 8, 9]);
    }
}
