//! Readers: CloudTrail records out of any delivery format, streamed from `impl Read`.
//!
//! Accepted, in one stream and in any mix: S3 objects (`{"Records":[…]}`, plain or gzip),
//! bare JSON arrays of records, NDJSON or concatenated records, EventBridge envelopes (the
//! record is `detail`) and CloudWatch Logs subscription envelopes (each `logEvents[].message`
//! holds a record as text). Gzip is recognised by its magic bytes, not the file name.
//!
//! Memory stays bounded: the S3 `Records` array is streamed element by element, and no single
//! record or envelope may exceed [`Limits::max_record_bytes`]. A syntax error ends the input
//! (record boundaries are lost), but what was read before it has been delivered; problems
//! confined to one record (a log message that is not JSON, say) skip that record only.

mod capped;
mod envelope;
mod paths;

use std::io::{self, Read};

pub use capped::LimitReached;
pub use paths::{is_digest_path, is_trail_object};

use crate::event::Event;
use crate::json::scan::{Scan, Slot, SyntaxError, TopKeys, scan_string, scan_value, skip_ws};
use crate::json::walk::Node;
use crate::time::{TimeField, first_usable};
use envelope::{deliver, dispatch};

/// Limits applied while reading one input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest record, or envelope holding records, in bytes.
    pub max_record_bytes: usize,
    /// The most bytes one gzip input may decompress to.
    pub max_decompressed_bytes: u64,
    /// How much to read at a time.
    pub chunk_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            // CloudTrail events are at most 256 KB; envelopes batch a few of them.
            max_record_bytes: 8 << 20,
            max_decompressed_bytes: 8 << 30,
            chunk_bytes: 1 << 20,
        }
    }
}

/// What a read got through, kept up to date even when the read fails part-way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Records delivered to the callback.
    pub records: u64,
    /// Records skipped with a [`RecordError`].
    pub skipped: u64,
    /// Bytes of JSON read (after decompression).
    pub bytes: u64,
    /// Was the input gzip?
    pub gzip: bool,
}

/// A problem that ends the input. Offsets count decompressed bytes from the start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("record {record}: invalid JSON at byte {offset}: expected {expected}")]
    Syntax {
        record: u64,
        offset: u64,
        expected: &'static str,
    },
    #[error("record {record} at byte {offset} is larger than the limit of {limit} bytes")]
    TooLarge {
        record: u64,
        offset: u64,
        limit: usize,
    },
    #[error("the input ends inside record {record} (byte {offset}): it is truncated")]
    Truncated { record: u64, offset: u64 },
    #[error("`Records` at byte {offset} is not an array")]
    RecordsNotArray { offset: u64 },
    #[error("expected CloudTrail JSON (`{{` or `[`) at byte {offset}")]
    NotCloudTrail { offset: u64 },
    #[error("gzip data decompresses to more than the limit of {limit} bytes")]
    DecompressionLimit { limit: u64 },
    #[error("gzip data is corrupt or truncated after {offset} decompressed bytes: {message}")]
    Gzip { offset: u64, message: String },
    #[error("reading failed after {offset} bytes: {message}")]
    Io { offset: u64, message: String },
}

/// A problem confined to one record; reading goes on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("record {record}: {reason}")]
pub struct RecordError {
    pub record: u64,
    pub reason: String,
}

/// One CloudTrail record, borrowed from the reader's buffer.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    index: u64,
    raw: &'a [u8],
    top: TopKeys,
}

impl<'a> Record<'a> {
    /// The record's position in its input, counting from 0 (skipped records included).
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The record as an event.
    pub fn event(&self) -> Event<'a> {
        Event::trusted(self.raw)
    }

    /// The record's raw JSON.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    fn top_string(&self, slot: Slot) -> Option<&'a [u8]> {
        let (a, b) = self.top.get(slot)?;
        match Node::of(self.raw.get(a..b)?) {
            Node::String(s) => Some(s),
            _ => None,
        }
    }

    /// The raw `eventID` string (escapes not decoded), found while reading.
    pub fn event_id(&self) -> Option<&'a [u8]> {
        self.top_string(Slot::EventId)
    }

    /// The raw `eventTime` string, found while reading.
    pub fn event_time(&self) -> Option<&'a [u8]> {
        self.top_string(Slot::EventTime)
    }

    /// The record's time in epoch seconds and the field it came from: a valid `eventTime`,
    /// else a valid `@timestamp` (see [`crate::time::first_usable`]).
    pub fn time(&self) -> Option<(i64, TimeField)> {
        first_usable(self.event_time(), self.top_string(Slot::Timestamp))
    }
}

/// Buffers a reader needs; keep one per thread and pass it to every read to avoid
/// allocating (and zeroing) them per input.
#[derive(Debug, Default)]
pub struct ReadBuffers {
    buf: Vec<u8>,
    stack: Vec<bool>,
    scratch: Vec<u8>,
}

/// Reads every record of `input`, calling `on` for each record or skipped record.
pub fn read_records<R: Read>(
    input: R,
    limits: &Limits,
    stats: &mut ReadStats,
    on: impl FnMut(Result<Record<'_>, RecordError>),
) -> Result<(), ReadError> {
    read_records_with(input, limits, &mut ReadBuffers::default(), stats, on)
}

/// [`read_records`] with buffers kept by the caller.
pub fn read_records_with<R: Read>(
    input: R,
    limits: &Limits,
    buffers: &mut ReadBuffers,
    stats: &mut ReadStats,
    mut on: impl FnMut(Result<Record<'_>, RecordError>),
) -> Result<(), ReadError> {
    let mut input = input;
    let mut magic = [0u8; 2];
    let mut got = 0;
    while got < 2 {
        match input.read(magic.get_mut(got..).unwrap_or_default()) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(ReadError::Io {
                    offset: 0,
                    message: e.to_string(),
                });
            }
        }
    }
    let prefix = io::Cursor::new(magic.get(..got).unwrap_or_default().to_vec());
    let joined = prefix.chain(input);
    if got == 2 && magic == [0x1f, 0x8b] {
        stats.gzip = true;
        let gz = capped::CappedGzip::new(joined, limits.max_decompressed_bytes);
        Reader::new(gz, limits, buffers, true).run(stats, &mut on)
    } else {
        Reader::new(joined, limits, buffers, false).run(stats, &mut on)
    }
}

struct Reader<'l, 'b, R> {
    src: R,
    limits: &'l Limits,
    gzip: bool,
    buf: &'b mut Vec<u8>,
    /// Consumed up to here.
    pos: usize,
    /// Valid data ends here.
    end: usize,
    /// Absolute stream offset of `buf[0]`.
    base: u64,
    eof: bool,
    record: u64,
    top: TopKeys,
    stack: &'b mut Vec<bool>,
    scratch: &'b mut Vec<u8>,
}

type Callback<'c> = dyn FnMut(Result<Record<'_>, RecordError>) + 'c;

impl<'l, 'b, R: Read> Reader<'l, 'b, R> {
    fn new(src: R, limits: &'l Limits, buffers: &'b mut ReadBuffers, gzip: bool) -> Self {
        let want = limits.chunk_bytes.max(16);
        if buffers.buf.len() < want {
            buffers.buf.resize(want, 0);
        }
        Reader {
            src,
            limits,
            gzip,
            buf: &mut buffers.buf,
            pos: 0,
            end: 0,
            base: 0,
            eof: false,
            record: 0,
            top: TopKeys::default(),
            stack: &mut buffers.stack,
            scratch: &mut buffers.scratch,
        }
    }

    fn offset(&self, pos: usize) -> u64 {
        self.base + pos as u64
    }

    fn io_error(&self, e: &io::Error) -> ReadError {
        let offset = self.offset(self.end);
        if e.get_ref().is_some_and(|inner| inner.is::<LimitReached>()) {
            ReadError::DecompressionLimit {
                limit: self.limits.max_decompressed_bytes,
            }
        } else if self.gzip {
            ReadError::Gzip {
                offset,
                message: e.to_string(),
            }
        } else {
            ReadError::Io {
                offset,
                message: e.to_string(),
            }
        }
    }

    /// Reads more input, keeping `buf[pos..end]`. Returns false at the end of input.
    fn fill(&mut self, stats: &mut ReadStats) -> Result<bool, ReadError> {
        if self.eof {
            return Ok(false);
        }
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.base += self.pos as u64;
            self.end -= self.pos;
            self.pos = 0;
        }
        if self.end == self.buf.len() {
            let cap = self.limits.max_record_bytes + self.limits.chunk_bytes;
            let grown = (self.buf.len() * 2).min(cap.max(self.buf.len()));
            if grown == self.buf.len() {
                return Err(ReadError::TooLarge {
                    record: self.record,
                    offset: self.offset(self.pos),
                    limit: self.limits.max_record_bytes,
                });
            }
            self.buf.resize(grown, 0);
        }
        loop {
            let room = self.buf.get_mut(self.end..).unwrap_or_default();
            match self.src.read(room) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.end += n;
                    stats.bytes += n as u64;
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io_error(&e)),
            }
        }
    }

    fn data(&self) -> &[u8] {
        self.buf.get(self.pos..self.end).unwrap_or_default()
    }

    /// The next non-whitespace byte, reading as needed; `None` at the end of input.
    fn peek(&mut self, stats: &mut ReadStats) -> Result<Option<u8>, ReadError> {
        loop {
            let data = self.data();
            let i = skip_ws(data, 0);
            if let Some(&b) = data.get(i) {
                self.pos += i;
                return Ok(Some(b));
            }
            self.pos = self.end;
            if !self.fill(stats)? {
                return Ok(None);
            }
        }
    }

    fn syntax(&self, e: SyntaxError) -> ReadError {
        ReadError::Syntax {
            record: self.record,
            offset: self.offset(self.pos + e.offset),
            expected: e.expected,
        }
    }

    fn too_large(&self) -> ReadError {
        ReadError::TooLarge {
            record: self.record,
            offset: self.offset(self.pos),
            limit: self.limits.max_record_bytes,
        }
    }

    fn truncated(&self) -> ReadError {
        ReadError::Truncated {
            record: self.record,
            offset: self.offset(self.end),
        }
    }

    /// The item at `pos` is incomplete: read more, unless it is already too large or the
    /// input has ended.
    fn more(&mut self, stats: &mut ReadStats) -> Result<(), ReadError> {
        if self.end - self.pos > self.limits.max_record_bytes {
            return Err(self.too_large());
        }
        if self.fill(stats)? {
            Ok(())
        } else {
            Err(self.truncated())
        }
    }

    /// Scans the value at `pos`; returns its length (it stays in `buf[pos..pos+len]`).
    fn value(&mut self, stats: &mut ReadStats) -> Result<usize, ReadError> {
        loop {
            let data = self.buf.get(self.pos..self.end).unwrap_or_default();
            match scan_value(data, 0, &mut self.top, self.stack) {
                Ok(Scan::Complete(n)) if n > self.limits.max_record_bytes => {
                    return Err(self.too_large());
                }
                Ok(Scan::Complete(n)) => return Ok(n),
                Ok(Scan::Incomplete) => self.more(stats)?,
                Err(e) => return Err(self.syntax(e)),
            }
        }
    }

    /// Scans a string at `pos` (a key); returns its length including quotes.
    fn string(&mut self, stats: &mut ReadStats) -> Result<usize, ReadError> {
        loop {
            match scan_string(self.data(), 0) {
                Ok(Some(n)) => return Ok(n),
                Ok(None) => self.more(stats)?,
                Err(e) => return Err(self.syntax(e)),
            }
        }
    }

    fn expect(
        &mut self,
        stats: &mut ReadStats,
        want: u8,
        expected: &'static str,
    ) -> Result<(), ReadError> {
        match self.peek(stats)? {
            Some(b) if b == want => {
                self.pos += 1;
                Ok(())
            }
            Some(_) => Err(self.syntax(SyntaxError {
                offset: 0,
                expected,
            })),
            None => Err(self.truncated()),
        }
    }

    fn run(mut self, stats: &mut ReadStats, on: &mut Callback<'_>) -> Result<(), ReadError> {
        // A UTF-8 byte order mark is tolerated at the very start.
        while self.data().len() < 3 && self.fill(stats)? {}
        if self.data().starts_with(b"\xEF\xBB\xBF") {
            self.pos += 3;
        }
        loop {
            match self.peek(stats)? {
                None => return Ok(()),
                Some(b'[') => {
                    self.pos += 1;
                    self.array_of_records(stats, on)?;
                }
                Some(b'{') => {
                    if self.first_key_is_records(stats)? {
                        self.streamed_wrapper(stats, on)?;
                    } else {
                        let len = self.value(stats)?;
                        let top = self.top;
                        let start = self.pos;
                        self.pos += len;
                        let raw = self.buf.get(start..start + len).unwrap_or_default();
                        dispatch(
                            raw,
                            top,
                            &mut self.record,
                            self.scratch,
                            self.stack,
                            stats,
                            on,
                        );
                    }
                }
                Some(_) => {
                    return Err(ReadError::NotCloudTrail {
                        offset: self.offset(self.pos),
                    });
                }
            }
        }
    }

    /// Is the object at `pos` of the form `{"Records": …`? Leaves `pos` unchanged.
    fn first_key_is_records(&mut self, stats: &mut ReadStats) -> Result<bool, ReadError> {
        const PREFIX_MAX: usize = 64;
        loop {
            let data = self.data();
            let i = skip_ws(data, 1);
            if data.len() >= i + PREFIX_MAX || self.eof {
                return Ok(data.get(i..).is_some_and(|r| r.starts_with(b"\"Records\"")));
            }
            if !self.fill(stats)? {
                let data = self.data();
                let i = skip_ws(data, 1);
                return Ok(data.get(i..).is_some_and(|r| r.starts_with(b"\"Records\"")));
            }
        }
    }

    /// `{"Records": [ … ], …}` with the array streamed record by record.
    fn streamed_wrapper(
        &mut self,
        stats: &mut ReadStats,
        on: &mut Callback<'_>,
    ) -> Result<(), ReadError> {
        self.pos += 1; // `{`
        self.peek(stats)?;
        let key = self.string(stats)?;
        self.pos += key;
        self.expect(stats, b':', "`:`")?;
        if self.peek(stats)? != Some(b'[') {
            return Err(ReadError::RecordsNotArray {
                offset: self.offset(self.pos),
            });
        }
        self.pos += 1;
        self.array_of_records(stats, on)?;
        // Any further members of the wrapper are skipped.
        loop {
            match self.peek(stats)? {
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b',') => {
                    self.pos += 1;
                    self.peek(stats)?;
                    let key = self.string(stats)?;
                    self.pos += key;
                    self.expect(stats, b':', "`:`")?;
                    self.peek(stats)?;
                    let len = self.value(stats)?;
                    self.pos += len;
                }
                Some(_) => {
                    return Err(self.syntax(SyntaxError {
                        offset: 0,
                        expected: "`,` or `}`",
                    }));
                }
                None => {
                    return Err(self.truncated());
                }
            }
        }
    }

    /// The elements of an array whose `[` was consumed, each a record.
    fn array_of_records(
        &mut self,
        stats: &mut ReadStats,
        on: &mut Callback<'_>,
    ) -> Result<(), ReadError> {
        if self.peek(stats)? == Some(b']') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            if self.peek(stats)?.is_none() {
                return Err(self.truncated());
            }
            let len = self.value(stats)?;
            let start = self.pos;
            self.pos += len;
            let raw = self.buf.get(start..start + len).unwrap_or_default();
            deliver(raw, self.top, &mut self.record, stats, on);
            match self.peek(stats)? {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(_) => {
                    return Err(self.syntax(SyntaxError {
                        offset: 0,
                        expected: "`,` or `]`",
                    }));
                }
                None => {
                    return Err(self.truncated());
                }
            }
        }
    }
}
