//! The smallest single edit that turns one text into another, in UTF-16 code units (the unit
//! of browser text fields and of Yjs text positions). Used to turn a textarea's new value into
//! a Y.Text edit, so concurrent typing in one note merges instead of overwriting.

/// Replace `delete` code units at `index` with `insert`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextEdit {
    pub index: u32,
    pub delete: u32,
    pub insert: String,
}

/// The edit from `old` to `new`, or `None` if they are equal. Never splits a surrogate pair.
pub fn diff(old: &str, new: &str) -> Option<TextEdit> {
    if old == new {
        return None;
    }
    let a: Vec<u16> = old.encode_utf16().collect();
    let b: Vec<u16> = new.encode_utf16().collect();
    let mut prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    // Do not end the common prefix between the two halves of a surrogate pair.
    while prefix > 0 && (is_low_surrogate(a.get(prefix)) || is_low_surrogate(b.get(prefix))) {
        prefix -= 1;
    }
    let max_suffix = a.len().min(b.len()) - prefix;
    let mut suffix = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take(max_suffix)
        .take_while(|(x, y)| x == y)
        .count();
    while suffix > 0
        && (is_low_surrogate(a.get(a.len() - suffix)) || is_low_surrogate(b.get(b.len() - suffix)))
    {
        suffix -= 1;
    }
    let inserted = &b[prefix..b.len() - suffix];
    Some(TextEdit {
        index: prefix as u32,
        delete: (a.len() - suffix - prefix) as u32,
        insert: String::from_utf16_lossy(inserted),
    })
}

/// Where a caret at `caret` (UTF-16) lands after `edit` was applied to the text it is in.
pub fn shift_caret(caret: u32, edit: &TextEdit) -> u32 {
    let inserted = edit.insert.encode_utf16().count() as u32;
    if caret <= edit.index {
        caret
    } else if caret >= edit.index + edit.delete {
        caret - edit.delete + inserted
    } else {
        edit.index + inserted
    }
}

fn is_low_surrogate(unit: Option<&u16>) -> bool {
    matches!(unit, Some(0xDC00..=0xDFFF))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(old: &str, edit: &TextEdit) -> String {
        let units: Vec<u16> = old.encode_utf16().collect();
        let (i, d) = (edit.index as usize, edit.delete as usize);
        let mut out: Vec<u16> = units[..i].to_vec();
        out.extend(edit.insert.encode_utf16());
        out.extend_from_slice(&units[i + d..]);
        String::from_utf16(&out).unwrap()
    }

    #[test]
    fn typing_deleting_and_replacing_are_single_edits() {
        let cases = [
            ("", "a"),
            ("hello", "hello!"),
            ("hello", "hi"),
            ("checkout slow", "checkout very slow"),
            ("aaa", "aa"),
            ("abc", ""),
            ("emoji 😀 here", "emoji 😃 here"),
            ("😀", "😀😀"),
            ("مرحبا", "مرحبا بك"),
        ];
        for (old, new) in cases {
            let edit = diff(old, new).unwrap();
            assert_eq!(apply(old, &edit), new, "{old:?} -> {new:?}: {edit:?}");
        }
        assert_eq!(diff("same", "same"), None);
    }

    #[test]
    fn a_remote_insert_before_the_caret_moves_it_along() {
        let edit = diff("world", "hello world").unwrap();
        assert_eq!(shift_caret(2, &edit), 8);
        let edit = diff("hello world", "hello").unwrap();
        assert_eq!(shift_caret(2, &edit), 2);
        assert_eq!(shift_caret(9, &edit), 5);
    }
}
