//! Where records start: the state machine that cuts a CSV file into partitions and splits
//! a stretch of bytes into records, without decoding any value.
//!
//! The machine is the one `csv_core` (the parser behind `arrow-csv`) runs, reduced to what
//! decides record boundaries: a terminator (`\n` or `\r`) ends a record unless it is inside
//! a quoted field; a quote opens a quoted field only at the start of a field (elsewhere it
//! is a literal byte); inside quotes a doubled quote or the escape byte keeps the field
//! open; a comment line runs to the next `\n`; empty lines are no records. Because the two
//! machines agree, a decoder started at a boundary found here reads exactly the records a
//! decoder reading the whole file would read from that point.
//!
//! [`FileIndex::build`] runs the machine once over a whole file (the pre-pass of planning).
//! Outside quotes it jumps with `memchr` from one quote or comment byte to the next, so a
//! file without quotes is scanned at memory speed; inside quotes it jumps from quote to
//! quote. It records a boundary (the byte after a `\n` that ends a record, and the line
//! there) about every `stride` bytes, and notes a quoted field still open at the end of
//! the file.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use spillway_planner::{Error, Result};

/// The bytes that decide where records and fields end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Dialect {
    pub delimiter: u8,
    pub quote: u8,
    pub escape: Option<u8>,
    pub comment: Option<u8>,
}

impl Default for Dialect {
    fn default() -> Self {
        Self {
            delimiter: b',',
            quote: b'"',
            escape: None,
            comment: None,
        }
    }
}

/// Where the machine is, between two bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Before the first byte of a record (also after an empty line or a comment line).
    RecordStart,
    /// After a delimiter.
    FieldStart,
    /// Inside an unquoted field.
    Field,
    /// Inside a quoted field.
    Quoted,
    /// Inside a quoted field, after the escape byte.
    Escaped,
    /// After a quote that closes a quoted field (or starts a doubled quote).
    QuoteEnd,
    /// Inside a comment line.
    Comment,
}

/// What one byte did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// Nothing that matters here.
    Byte,
    /// It ended a field (a delimiter outside quotes).
    Delimiter,
    /// It ended a record (a terminator outside quotes, after at least one byte of it).
    RecordEnd,
}

fn is_terminator(b: u8) -> bool {
    b == b'\n' || b == b'\r'
}

impl Dialect {
    /// The machine's transition on `b`.
    fn step(&self, state: State, b: u8) -> (State, Step) {
        match state {
            State::RecordStart => {
                if is_terminator(b) {
                    (State::RecordStart, Step::Byte)
                } else if self.comment == Some(b) {
                    (State::Comment, Step::Byte)
                } else {
                    self.step(State::FieldStart, b)
                }
            }
            State::FieldStart if b == self.quote => (State::Quoted, Step::Byte),
            State::FieldStart | State::Field => self.unquoted(b),
            State::Quoted => {
                if b == self.quote {
                    (State::QuoteEnd, Step::Byte)
                } else if self.escape == Some(b) {
                    (State::Escaped, Step::Byte)
                } else {
                    (State::Quoted, Step::Byte)
                }
            }
            State::Escaped => (State::Quoted, Step::Byte),
            State::QuoteEnd if b == self.quote => (State::Quoted, Step::Byte),
            State::QuoteEnd => self.unquoted(b),
            State::Comment if b == b'\n' => (State::RecordStart, Step::Byte),
            State::Comment => (State::Comment, Step::Byte),
        }
    }

    fn unquoted(&self, b: u8) -> (State, Step) {
        if b == self.delimiter {
            (State::FieldStart, Step::Delimiter)
        } else if is_terminator(b) {
            (State::RecordStart, Step::RecordEnd)
        } else {
            (State::Field, Step::Byte)
        }
    }

    /// The bytes that can take the machine out of the unquoted states.
    fn special(&self, bytes: &[u8]) -> Option<usize> {
        match self.comment {
            Some(c) => memchr::memchr2(self.quote, c, bytes),
            None => memchr::memchr(self.quote, bytes),
        }
    }
}

/// The UTF-8 byte order mark: at the start of a file it is not data (`csv_core` drops it
/// too, and so must the machine, or a quote after it would open no quoted field here and
/// one there).
pub(crate) const BOM: &[u8] = b"\xef\xbb\xbf";

/// Counts `\n` bytes (lines are numbered by line feeds, as editors do).
pub(crate) fn count_lines(bytes: &[u8]) -> u64 {
    // A plain loop the compiler vectorizes; faster than an iterator of matches on dense data.
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

/// A place where a record may start: a decoder started here reads what a decoder reading
/// the whole file reads from here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cut {
    /// Byte offset in the file.
    pub offset: u64,
    /// The line at `offset`, counted from 1.
    pub line: u64,
}

/// The record boundaries of one file's data region, found by one pass over it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FileIndex {
    /// Increasing, the first being the start of the data region, then one about every
    /// `stride` bytes.
    pub cuts: Vec<Cut>,
    /// The end of the data: the file's length, or, when the file ends in a comment line
    /// without a `\n`, where that line starts (`csv_core` would read it as a record of one
    /// empty field).
    pub len: u64,
    /// When the file ends inside a quoted field: where the record holding it starts.
    pub unterminated: Option<u64>,
}

/// The pre-pass's moving parts.
struct Indexer {
    dialect: Dialect,
    state: State,
    stride: u64,
    /// The next cut is the first boundary at or after this offset.
    next_cut: u64,
    cuts: Vec<Cut>,
    /// Lines counted up to `counted_to`.
    lines: u64,
    counted_to: u64,
    /// Where the record being read starts (after the last boundary seen).
    record_start: u64,
}

impl Indexer {
    /// Records a boundary at `offset` (just after a `\n` ending a record) in the chunk
    /// `buf` starting at `base`, when it is the first past `next_cut`.
    fn boundary(&mut self, buf: &[u8], base: u64, offset: u64) {
        self.record_start = offset;
        if offset >= self.next_cut {
            self.count_to(buf, base, offset);
            self.cuts.push(Cut {
                offset,
                line: self.lines,
            });
            self.next_cut = offset.saturating_add(self.stride);
        }
    }

    fn count_to(&mut self, buf: &[u8], base: u64, offset: u64) {
        let from = to_index(self.counted_to - base);
        let to = to_index(offset - base);
        self.lines += count_lines(&buf[from..to]);
        self.counted_to = offset;
    }

    /// Runs the machine over `buf`, the bytes at `base`.
    fn feed(&mut self, buf: &[u8], base: u64) {
        let d = self.dialect;
        let mut i = 0;
        while i < buf.len() {
            match self.state {
                State::RecordStart | State::FieldStart | State::Field => {
                    // Up to the next quote or comment byte nothing can open a quoted field
                    // or a comment: every terminator ends a record.
                    let next = d.special(&buf[i..]).map_or(buf.len(), |k| i + k);
                    let stretch = &buf[i..next];
                    let mut from = i;
                    while self.next_cut <= base + next as u64 {
                        let lo = to_index(self.next_cut.saturating_sub(base + 1)).max(from);
                        let Some(k) = memchr::memchr(b'\n', &buf[lo..next]) else {
                            break;
                        };
                        let at = lo + k + 1;
                        self.boundary(buf, base, base + at as u64);
                        from = at;
                    }
                    if let Some(&last) = stretch.last() {
                        if let Some(k) = memchr::memrchr2(b'\n', b'\r', stretch) {
                            self.record_start = base + (i + k + 1) as u64;
                        }
                        self.state = if is_terminator(last) {
                            State::RecordStart
                        } else if last == d.delimiter {
                            State::FieldStart
                        } else {
                            State::Field
                        };
                    }
                    i = next;
                    if i < buf.len() {
                        self.state = d.step(self.state, buf[i]).0;
                        i += 1;
                    }
                }
                State::Quoted => {
                    let rest = &buf[i..];
                    let found = match d.escape {
                        Some(e) => memchr::memchr2(d.quote, e, rest),
                        None => memchr::memchr(d.quote, rest),
                    };
                    match found {
                        Some(k) => {
                            self.state = d.step(State::Quoted, rest[k]).0;
                            i += k + 1;
                        }
                        None => i = buf.len(),
                    }
                }
                State::Comment => match memchr::memchr(b'\n', &buf[i..]) {
                    Some(k) => {
                        self.state = State::RecordStart;
                        i += k + 1;
                        self.boundary(buf, base, base + i as u64);
                    }
                    None => i = buf.len(),
                },
                State::Escaped | State::QuoteEnd => {
                    let b = buf[i];
                    let (state, step) = d.step(self.state, b);
                    self.state = state;
                    i += 1;
                    if step == Step::RecordEnd {
                        if b == b'\n' {
                            self.boundary(buf, base, base + i as u64);
                        } else {
                            self.record_start = base + i as u64;
                        }
                    }
                }
            }
        }
        self.count_to(buf, base, base + buf.len() as u64);
    }
}

fn to_index(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// Bytes read at a time by the pre-pass.
const CHUNK: usize = 4 << 20;

impl FileIndex {
    /// Runs the pre-pass over `path` from `data_start` (a record start, on line
    /// `data_line`), recording a cut about every `stride` bytes.
    ///
    /// # Errors
    /// [`Error::Io`] naming the file when it cannot be read.
    pub fn build(
        path: &Path,
        dialect: Dialect,
        data_start: u64,
        data_line: u64,
        stride: u64,
    ) -> Result<Self> {
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(data_start)).map_err(io)?;
        let mut indexer = Indexer::new(dialect, data_start, data_line, stride);
        let mut buf = vec![0; CHUNK.min(to_index(len.saturating_sub(data_start)).max(1))];
        let mut base = data_start;
        loop {
            let n = read_full(&mut file, &mut buf).map_err(io)?;
            if n == 0 {
                break;
            }
            indexer.feed(&buf[..n], base);
            base += n as u64;
        }
        Ok(indexer.finish(base.max(len)))
    }

    /// The pre-pass over bytes already in memory, `bytes` being the whole file.
    #[cfg(test)]
    pub fn of_bytes(bytes: &[u8], dialect: Dialect, data_start: u64, stride: u64) -> Self {
        let start = to_index(data_start);
        let line = 1 + count_lines(&bytes[..start]);
        let mut indexer = Indexer::new(dialect, data_start, line, stride);
        for (k, chunk) in bytes[start..].chunks(7).enumerate() {
            indexer.feed(chunk, data_start + (k * 7) as u64);
        }
        indexer.finish(bytes.len() as u64)
    }
}

impl Indexer {
    fn new(dialect: Dialect, data_start: u64, data_line: u64, stride: u64) -> Self {
        Self {
            dialect,
            state: State::RecordStart,
            stride: stride.max(1),
            next_cut: data_start.saturating_add(stride.max(1)),
            cuts: vec![Cut {
                offset: data_start,
                line: data_line,
            }],
            lines: data_line,
            counted_to: data_start,
            record_start: data_start,
        }
    }

    fn finish(self, len: u64) -> FileIndex {
        let unterminated =
            matches!(self.state, State::Quoted | State::Escaped).then_some(self.record_start);
        // Only terminators lie between the last record's end and `record_start`.
        let len = if self.state == State::Comment {
            self.record_start.min(len)
        } else {
            len
        };
        let mut cuts = self.cuts;
        // A cut at the very end starts no record.
        while cuts.len() > 1 && cuts.last().is_some_and(|c| c.offset >= len) {
            cuts.pop();
        }
        FileIndex {
            cuts,
            len,
            unterminated,
        }
    }
}

/// Reads until `buf` is full or the file ends; returns the bytes read.
pub(crate) fn read_full(file: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The next record in a stretch of bytes that starts at a record boundary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Split {
    /// Only empty lines and comments before the end of the bytes, which is the end of the
    /// data: no record.
    Done,
    /// The record does not end within the bytes, which are not the end of the data.
    NeedMore,
    /// A record.
    Record {
        /// Its first byte (after empty lines and comment lines).
        start: usize,
        /// Just past its terminator (or the end of the data).
        end: usize,
        /// Its fields.
        fields: usize,
        /// False when the data ends inside a quoted field.
        closed: bool,
    },
}

/// Splits the first record off `bytes`; `at_eof` says that the data ends with them.
pub(crate) fn split_record(bytes: &[u8], at_eof: bool, dialect: &Dialect) -> Split {
    let mut state = State::RecordStart;
    let mut start = None;
    let mut fields = 1;
    for (i, &b) in bytes.iter().enumerate() {
        let (next, step) = dialect.step(state, b);
        if start.is_none() && state == State::RecordStart && next != State::RecordStart {
            if next == State::Comment {
                state = next;
                continue;
            }
            start = Some(i);
        }
        state = next;
        match step {
            Step::Delimiter => fields += 1,
            Step::RecordEnd => {
                return Split::Record {
                    start: start.unwrap_or(i),
                    end: i + 1,
                    fields,
                    closed: true,
                };
            }
            Step::Byte => {}
        }
    }
    match (start, at_eof) {
        (_, false) => Split::NeedMore,
        (None, true) => Split::Done,
        (Some(start), true) => Split::Record {
            start,
            end: bytes.len(),
            fields,
            closed: !matches!(state, State::Quoted | State::Escaped),
        },
    }
}

/// Where the data of a file with a header starts: just past the first record (a byte order
/// mark, leading empty lines and comment lines are skipped), read in chunks of growing
/// size.
///
/// # Errors
/// [`Error::Io`] naming the file when it cannot be read.
pub(crate) fn header_end(path: &Path, dialect: &Dialect) -> Result<u64> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    let mut want = 64 << 10;
    loop {
        let have = bytes.len();
        bytes.resize(want, 0);
        let n = read_full(&mut file, &mut bytes[have..]).map_err(io)?;
        bytes.truncate(have + n);
        let at_eof = bytes.len() < want;
        let skip = if bytes.starts_with(BOM) { BOM.len() } else { 0 };
        match split_record(&bytes[skip..], at_eof, dialect) {
            Split::Done => return Ok(bytes.len() as u64),
            Split::Record { end, .. } => return Ok((skip + end) as u64),
            Split::NeedMore => want *= 2,
        }
    }
}
