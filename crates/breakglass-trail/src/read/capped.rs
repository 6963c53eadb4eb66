//! The one place gzip is decoded, with a cap on decompressed bytes.
//!
//! A small object can inflate to gigabytes; a scan must fail that object, not the machine.
//! `clippy.toml` bans the plain decoders everywhere else.

use std::io::{self, Read};

use flate2::read::MultiGzDecoder;

/// Marks the error a capped reader returns when its limit is reached.
#[derive(Debug)]
pub struct LimitReached;

impl std::fmt::Display for LimitReached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("decompression limit reached")
    }
}

impl std::error::Error for LimitReached {}

/// A gzip decoder (multi-member, as `zcat` reads) that fails once it has produced `limit`
/// bytes and there is still more.
pub struct CappedGzip<R: Read> {
    inner: MultiGzDecoder<R>,
    produced: u64,
    limit: u64,
}

impl<R: Read> CappedGzip<R> {
    pub fn new(reader: R, limit: u64) -> Self {
        #[expect(
            clippy::disallowed_methods,
            reason = "this is the capped reader the ban points to"
        )]
        let inner = MultiGzDecoder::new(reader);
        CappedGzip {
            inner,
            produced: 0,
            limit,
        }
    }
}

impl<R: Read> Read for CappedGzip<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.produced >= self.limit {
            // Allow the stream to end exactly at the limit; anything more is an error.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(io::Error::other(LimitReached)),
            };
        }
        let room = usize::try_from(self.limit - self.produced).unwrap_or(usize::MAX);
        let want = buf.len().min(room);
        let n = self.inner.read(buf.get_mut(..want).unwrap_or_default())?;
        self.produced += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn output_at_the_limit_is_fine_and_beyond_it_fails() {
        let data = vec![b'a'; 10_000];
        let mut out = Vec::new();
        CappedGzip::new(&gz(&data)[..], 10_000)
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out.len(), 10_000);
        let err = CappedGzip::new(&gz(&data)[..], 9_999)
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert!(err.get_ref().is_some_and(|e| e.is::<LimitReached>()));
    }

    #[test]
    fn concatenated_members_are_read_like_zcat() {
        let mut two = gz(b"hello ");
        two.extend(gz(b"world"));
        let mut out = String::new();
        CappedGzip::new(&two[..], 1 << 20)
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "hello world");
    }
}
