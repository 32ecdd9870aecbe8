//! Masks secret values as `****` in everything a status message can show: vertex names and
//! errors, status ids, log data, warnings. Applied before any renderer sees the message, so
//! no mode (rawjson included) can print a secret. A value split across two log chunks is
//! not caught; values shorter than 3 bytes are ignored (they would mask everything).

use bollard_buildkit_proto::moby::buildkit::v1::StatusResponse;

pub(crate) const MASK: &str = "****";

/// The secret values to hide.
#[derive(Debug, Clone, Default)]
pub struct SecretMasker {
    /// Longest first; one fast substring searcher per value.
    finders: Vec<memchr::memmem::Finder<'static>>,
}

impl SecretMasker {
    pub fn new<I, S>(values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        let mut values: Vec<Vec<u8>> = values.into_iter().map(|v| v.as_ref().to_vec()).filter(|v| v.len() >= 3).collect();
        // Longest first, so a secret containing another one is masked whole.
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        values.dedup();
        SecretMasker { finders: values.iter().map(|v| memchr::memmem::Finder::new(v).into_owned()).collect() }
    }

    pub fn is_empty(&self) -> bool {
        self.finders.is_empty()
    }

    pub fn mask_bytes(&self, data: &mut Vec<u8>) {
        for f in &self.finders {
            if let Some(masked) = replace_all(data, f) {
                *data = masked;
            }
        }
    }

    pub fn mask_string(&self, s: &mut String) {
        if self.finders.iter().any(|f| f.find(s.as_bytes()).is_some()) {
            let mut b = std::mem::take(s).into_bytes();
            self.mask_bytes(&mut b);
            *s = String::from_utf8_lossy(&b).into_owned();
        }
    }

    /// Masks every text field of a status message in place.
    pub fn mask_status(&self, msg: &mut StatusResponse) {
        if self.is_empty() {
            return;
        }
        for v in &mut msg.vertexes {
            self.mask_string(&mut v.name);
            self.mask_string(&mut v.error);
        }
        for s in &mut msg.statuses {
            self.mask_string(&mut s.id);
            self.mask_string(&mut s.name);
        }
        for l in &mut msg.logs {
            self.mask_bytes(&mut l.msg);
        }
        for w in &mut msg.warnings {
            self.mask_bytes(&mut w.short);
            for d in &mut w.detail {
                self.mask_bytes(d);
            }
        }
    }
}

fn replace_all(data: &[u8], finder: &memchr::memmem::Finder<'_>) -> Option<Vec<u8>> {
    let first = finder.find(data)?;
    let n = finder.needle().len();
    let mut out = Vec::with_capacity(data.len());
    let mut done = 0;
    let mut at = Some(first);
    while let Some(i) = at {
        out.extend_from_slice(&data[done..i]);
        out.extend_from_slice(MASK.as_bytes());
        done = i + n;
        at = finder.find(&data[done..]).map(|j| done + j);
    }
    out.extend_from_slice(&data[done..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_all_occurrences_longest_first() {
        let m = SecretMasker::new(["hunter2", "hunter2-extra", "x"]);
        let mut s = "a hunter2-extra b hunter2 c x".to_string();
        m.mask_string(&mut s);
        assert_eq!(s, "a **** b **** c x");
        let mut b = b"hunter2hunter2\nx hunter2".to_vec();
        m.mask_bytes(&mut b);
        assert_eq!(b, b"********\nx ****");
    }
}
