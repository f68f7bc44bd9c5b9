//! The CSV reader: bytes in, column batches out, on one thread or several.
//!
//! It reads RFC 4180 CSV exactly as the `csv` crate does with a header row and
//! `flexible(false)` (what broker-rules used before): `,` between fields; `\n`, `\r` or
//! `\r\n` between records; blank lines skipped; a field that starts with `"` is quoted
//! (`""` inside is one `"`, newlines are kept, text after the closing quote is kept
//! literally); a `"` inside an unquoted field is an ordinary character; a UTF-8 byte order
//! mark at the start is skipped.
//!
//! A clean record (every value plain: decimals of digits with at most 18 fractional digits,
//! an RFC 3339 time, `fee` given...) goes into a [`Columns`](crate::columns::Columns) batch
//! with no string allocated; any other record is built by the row path
//! ([`TradeBuilder`]), which gives exactly the error the old reader gave: same code,
//! message, line, column and field.
//!
//! Lines are physical: a record's line is the line its first byte is on (1-based). (The
//! `csv` crate counted the line where the previous record's terminator ended, which is one
//! less after `\r\n` or a blank line.)

use super::{fast_decimal, role, ColumnMap, Progress, Role, Rows, Sink, BATCH_ROWS, REQUIRED};
use crate::columns::ONE;
use crate::error::{Error, ErrorCode, Result};
use crate::settle::Settler;
use crate::time;
use crate::trade::{Liquidity, Raw, TradeBuilder};
use memchr::{memchr, memchr_iter, memrchr2};
use std::format;
use std::io::Read;
use std::string::{String, ToString};
use std::vec::Vec;

/// Bytes read at a time, and the size of a parallel chunk.
const BLOCK: usize = 4 << 20;

/// Reads a CSV trade log (header row first) into the settler on this thread.
pub fn feed_csv<R: Read>(s: &mut Settler, input: R, progress: Progress<'_>) -> Result<()> {
    feed_csv_with(s, input, &ColumnMap::default(), 1, progress)
}

/// Reads a CSV trade log on `threads` worker threads: the input is cut into chunks of
/// whole records (about 4 MiB each), each worker settles its chunks into a fork of `s`, and
/// the forks are merged into `s`. The statement is the one [`feed_csv`] gives. In strict
/// mode the error is the first one in the file. With `threads <= 1`, or a program the
/// per-trade engine settles (its settlers do not fork), it runs on this thread.
pub fn feed_csv_parallel<R: Read>(
    s: &mut Settler,
    input: R,
    threads: usize,
    progress: Progress<'_>,
) -> Result<()> {
    feed_csv_with(s, input, &ColumnMap::default(), threads, progress)
}

/// [`feed_csv_parallel`] with column renames applied to the header.
pub fn feed_csv_with<R: Read>(
    s: &mut Settler,
    input: R,
    map: &ColumnMap,
    threads: usize,
    progress: Progress<'_>,
) -> Result<()> {
    feed_csv_blocks(s, input, map, threads, BLOCK, progress)
}

/// [`feed_csv_with`] reading `block` bytes at a time (tests cut small inputs everywhere).
pub(crate) fn feed_csv_blocks<R: Read>(
    s: &mut Settler,
    input: R,
    map: &ColumnMap,
    threads: usize,
    block: usize,
    progress: Progress<'_>,
) -> Result<()> {
    let mut src = Source::new(input);
    let header = read_header(&mut src, map, s.strict())?;
    // An error about a trade's field names its column too, whichever path (row or batch)
    // found it: one location for one mistake.
    let names = header.names.clone();
    feed_csv_rows(s, &header, src, threads, block, progress).map_err(|e| {
        if e.location.column.is_none() && e.location.line.is_some() {
            e.at_column_of(&names)
        } else {
            e
        }
    })
}

fn feed_csv_rows<R: Read>(
    s: &mut Settler,
    header: &Header,
    src: Source<R>,
    threads: usize,
    block: usize,
    progress: Progress<'_>,
) -> Result<()> {
    if threads > 1 {
        let mut forks = Vec::with_capacity(threads);
        for _ in 0..threads {
            match s.fork() {
                Some(f) => forks.push(f),
                None => break,
            }
        }
        if forks.len() == threads {
            return parallel(s, forks, header, src, block, progress);
        }
        // Forks that exist share de-duplication with `s`; merging them back (empty) keeps
        // `s` consistent.
        for f in forks {
            s.merge(f)?;
        }
    }
    run_sequential(s, header, src, block, progress)
}

/// An input that can be read again from the start: a file, or bytes in memory.
///
/// On several threads, two trades with one id and different content may be met in either
/// order (workers read chunks at the same time), while the answer, `E_DUPLICATE_ID` on the
/// later one's line, is defined by input order. An input that can be read again is then
/// settled again on one thread, so the error is always the one-thread error
/// ([`feed_csv_reopen`]). A stream read on several threads ([`feed_csv_parallel`]) may name
/// either line of such a pair when both fall in chunks read at the same time.
pub trait Reopen {
    type Reader: Read;
    /// A reader from byte `offset` to the end.
    fn open_at(&self, offset: u64) -> std::io::Result<Self::Reader>;
}

impl<'a> Reopen for &'a [u8] {
    type Reader = &'a [u8];
    fn open_at(&self, offset: u64) -> std::io::Result<&'a [u8]> {
        Ok(usize::try_from(offset)
            .ok()
            .and_then(|o| self.get(o..))
            .unwrap_or(&[]))
    }
}

/// A file, opened again for each read.
impl Reopen for std::path::Path {
    type Reader = std::fs::File;
    fn open_at(&self, offset: u64) -> std::io::Result<std::fs::File> {
        use std::io::{Seek, SeekFrom};
        let mut f = std::fs::File::open(self)?;
        f.seek(SeekFrom::Start(offset))?;
        Ok(f)
    }
}

/// [`feed_csv_with`] for an input that can be read again ([`Reopen`]): the statement
/// [`feed_csv`] gives, and on several threads the same `E_DUPLICATE_ID` error as on one.
pub fn feed_csv_reopen<O: Reopen + ?Sized>(
    s: &mut Settler,
    input: &O,
    map: &ColumnMap,
    threads: usize,
    progress: Progress<'_>,
) -> Result<()> {
    feed_csv_reopen_blocks(s, input, map, threads, BLOCK, progress)
}

/// [`feed_csv_reopen`] reading `block` bytes at a time (tests cut small inputs everywhere).
pub(crate) fn feed_csv_reopen_blocks<O: Reopen + ?Sized>(
    s: &mut Settler,
    input: &O,
    map: &ColumnMap,
    threads: usize,
    block: usize,
    progress: Progress<'_>,
) -> Result<()> {
    let mut src = Source::new(input.open_at(0).map_err(|e| io_error(&e))?);
    let header = read_header(&mut src, map, s.strict())?;
    let (start, first_line) = (src.byte, src.line);
    // Kept before forking (forks share the seen ids): the state to start over from.
    let blank = if threads > 1 { s.blank() } else { None };
    let r = feed_csv_rows(s, &header, src, threads, block, progress);
    // A different trade under a seen id (an error in both modes): the later one in the input
    // is the duplicate, but the workers may have met the two the other way round. Settle
    // again, in order. (Identical duplicates give the same statement whichever is kept.)
    let r = match blank {
        Some(blank) if matches!(&r, Err(e) if e.code == ErrorCode::DuplicateId) => {
            *s = blank;
            let mut src = Source::new(input.open_at(start).map_err(|e| io_error(&e))?);
            src.byte = start;
            src.line = first_line;
            run_sequential(s, &header, src, block, progress)
        }
        _ => r,
    };
    r.map_err(|e| with_column(e, &header.names))
}

/// An error about a trade's field names its column too, whichever path (row or batch) found
/// it: one location for one mistake. ([`feed_csv_blocks`], which the web .wasm uses, keeps
/// the same lines inline: calling this from there grew the .wasm by 120-430 bytes gzip,
/// past its budget.)
fn with_column(e: Error, names: &[String]) -> Error {
    if e.location.column.is_none() && e.location.line.is_some() {
        e.at_column_of(names)
    } else {
        e
    }
}

// ---------------------------------------------------------------------------------------
// Input.

/// The input and the bytes read from it but not yet parsed.
pub(crate) struct Source<R> {
    input: R,
    /// Unparsed bytes; `buf[0]` is at input offset `byte`, on line `line`.
    pub buf: Vec<u8>,
    pub byte: u64,
    pub line: u64,
    pub eof: bool,
    /// An I/O error met while reading (reported after the records before it).
    pub error: Option<std::io::Error>,
    /// Bytes read so far.
    pub read: u64,
}

impl<R: Read> Source<R> {
    pub fn new(input: R) -> Self {
        Source {
            input,
            buf: Vec::new(),
            byte: 0,
            line: 1,
            eof: false,
            error: None,
            read: 0,
        }
    }

    /// Reads until `buf` holds at least `want` bytes, or the input ends (or fails).
    pub fn fill(&mut self, want: usize) {
        if self.buf.capacity() < want {
            self.buf.reserve(want - self.buf.len());
        }
        while !self.eof && self.buf.len() < want {
            let need = (want - self.buf.len()) as u64;
            match (&mut self.input).take(need).read_to_end(&mut self.buf) {
                Ok(0) => self.eof = true,
                Ok(k) => self.read += k as u64,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.error = Some(e);
                    self.eof = true;
                }
            }
        }
    }

    /// Drops the first `n` bytes (parsed), counting their lines.
    pub fn consume(&mut self, n: usize, lines: u64) {
        self.buf.drain(..n);
        self.byte += n as u64;
        self.line += lines;
    }
}

fn io_error(e: &std::io::Error) -> Error {
    Error::new(ErrorCode::Parse, format!("malformed CSV: {e}"))
}

// ---------------------------------------------------------------------------------------
// Records.

/// One field of a record: `buf[start..end]` is its text, except for a field whose quoting
/// needs undoing (`""`, or text after the closing quote), where it is the raw bytes from
/// the opening quote.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Field {
    start: usize,
    end: usize,
    raw: bool,
}

fn is_term(b: u8) -> bool {
    b == b'\n' || b == b'\r'
}

fn count_nl(b: &[u8]) -> u64 {
    memchr_iter(b'\n', b).count() as u64
}

/// Scans the record starting at `p` (not a terminator). Returns the position of its
/// terminator (or the end of the input) and the newlines inside it, or `None` when the
/// record does not end within `buf` and more input may follow (`!eof`).
pub(crate) fn scan_record(
    buf: &[u8],
    mut p: usize,
    eof: bool,
    fields: &mut Vec<Field>,
) -> Option<(usize, u64)> {
    fields.clear();
    let n = buf.len();
    let mut nl = 0u64;
    loop {
        if p < n && buf[p] == b'"' {
            let open = p;
            let mut q = p + 1;
            let mut raw = false;
            loop {
                let Some(k) = memchr(b'"', &buf[q..]) else {
                    // An unclosed quote runs to the end of the input.
                    if !eof {
                        return None;
                    }
                    nl += count_nl(&buf[q..]);
                    fields.push(Field {
                        start: open,
                        end: n,
                        raw: true,
                    });
                    return Some((n, nl));
                };
                let j = q + k;
                nl += count_nl(&buf[q..j]);
                if j + 1 >= n {
                    if !eof {
                        return None;
                    }
                    fields.push(quoted(open, j, raw));
                    return Some((n, nl));
                }
                match buf[j + 1] {
                    b'"' => {
                        raw = true;
                        q = j + 2;
                    }
                    b',' => {
                        fields.push(quoted(open, j, raw));
                        p = j + 2;
                        break;
                    }
                    b'\n' | b'\r' => {
                        fields.push(quoted(open, j, raw));
                        return Some((j + 1, nl));
                    }
                    _ => {
                        // Text after the closing quote is kept, up to the next separator.
                        match find_sep(buf, j + 1).map(|e| e - (j + 1)) {
                            None => {
                                if !eof {
                                    return None;
                                }
                                fields.push(Field {
                                    start: open,
                                    end: n,
                                    raw: true,
                                });
                                return Some((n, nl));
                            }
                            Some(k) => {
                                let e = j + 1 + k;
                                fields.push(Field {
                                    start: open,
                                    end: e,
                                    raw: true,
                                });
                                if buf[e] == b',' {
                                    p = e + 1;
                                    break;
                                }
                                return Some((e, nl));
                            }
                        }
                    }
                }
            }
        } else {
            match find_sep(buf, p).map(|e| e - p) {
                None => {
                    if !eof {
                        return None;
                    }
                    fields.push(Field {
                        start: p,
                        end: n,
                        raw: false,
                    });
                    return Some((n, nl));
                }
                Some(k) => {
                    let e = p + k;
                    fields.push(Field {
                        start: p,
                        end: e,
                        raw: false,
                    });
                    if buf[e] == b',' {
                        p = e + 1;
                    } else {
                        return Some((e, nl));
                    }
                }
            }
        }
    }
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Bytes of `x` that are zero, as their high bits (exact for the lowest one).
#[inline(always)]
fn zeros(x: u64) -> u64 {
    x.wrapping_sub(LO) & !x & HI
}

/// The first `,`, `\n` or `\r` at or after `i`, eight bytes at a time (fields are short,
/// so this beats a SIMD search that must be set up for each field).
#[inline]
fn find_sep(b: &[u8], mut i: usize) -> Option<usize> {
    while i + 8 <= b.len() {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[i..i + 8]);
        let x = u64::from_le_bytes(w);
        let m = zeros(x ^ (LO * b',' as u64))
            | zeros(x ^ (LO * b'\n' as u64))
            | zeros(x ^ (LO * b'\r' as u64));
        if m != 0 {
            return Some(i + (m.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    while i < b.len() {
        if matches!(b[i], b',' | b'\n' | b'\r') {
            return Some(i);
        }
        i += 1;
    }
    None
}

fn quoted(open: usize, close: usize, raw: bool) -> Field {
    if raw {
        Field {
            start: open,
            end: close + 1,
            raw: true,
        }
    } else {
        Field {
            start: open + 1,
            end: close,
            raw: false,
        }
    }
}

/// The text of a raw quoted field (from its opening quote).
fn unquote(raw: &[u8], out: &mut Vec<u8>) {
    let mut i = 1;
    let mut in_quotes = true;
    while i < raw.len() {
        let c = raw[i];
        if in_quotes && c == b'"' {
            if raw.get(i + 1) == Some(&b'"') {
                out.push(b'"');
                i += 2;
                continue;
            }
            in_quotes = false;
        } else {
            out.push(c);
        }
        i += 1;
    }
}

/// A field's text as bytes (tests).
#[cfg(test)]
pub(crate) fn field_text(buf: &[u8], f: &Field) -> Vec<u8> {
    let mut v = Vec::new();
    if f.raw {
        unquote(&buf[f.start..f.end], &mut v);
    } else {
        v.extend_from_slice(&buf[f.start..f.end]);
    }
    v
}

/// The header of a CSV input that has one (tests).
#[cfg(test)]
pub(crate) fn read_header_for_tests<R: Read>(src: &mut Source<R>) -> Header {
    read_header(src, &ColumnMap::default(), false).unwrap()
}

/// Skips terminators (blank lines) from `p`; returns the new position and the newlines.
fn skip_terms(buf: &[u8], mut p: usize) -> (usize, u64) {
    let mut nl = 0;
    while p < buf.len() && is_term(buf[p]) {
        nl += (buf[p] == b'\n') as u64;
        p += 1;
    }
    (p, nl)
}

/// The end of the last whole record in `buf` (which starts at a record boundary), when a
/// record ends in it and more input follows.
fn last_boundary(buf: &[u8], fields: &mut Vec<Field>) -> Option<usize> {
    if memchr(b'"', buf).is_none() {
        return memrchr2(b'\n', b'\r', buf).map(|i| i + 1);
    }
    let mut p = 0;
    let mut last = None;
    loop {
        p = skip_terms(buf, p).0;
        if p == buf.len() {
            return Some(p).filter(|&p| p > 0);
        }
        match scan_record(buf, p, false, fields) {
            Some((next, _)) => {
                last = Some(next);
                p = next;
            }
            None => return last,
        }
    }
}

/// A record the CSV layer rejects (before any field is read), as the `csv` crate did.
#[derive(Clone, Debug)]
pub(crate) struct Structural {
    /// The record's index within its chunk (data records, from 0).
    local: u64,
    line: u64,
    byte: u64,
    kind: Kind,
}

#[derive(Clone, Debug)]
enum Kind {
    Unequal { len: usize, expected: usize },
    Utf8 { field: usize, valid_up_to: usize },
}

impl Structural {
    /// The error, given the record's number in the input (the header is record 0).
    fn error(&self, record: u64) -> Error {
        let msg = match self.kind {
            Kind::Unequal { len, expected } => format!(
                "malformed CSV: CSV error: record {record} (line: {}, byte: {}): found record with {len} fields, but the previous record has {expected} fields",
                self.line, self.byte
            ),
            Kind::Utf8 { field, valid_up_to } => format!(
                "malformed CSV: CSV parse error: record {record} (line {}, field: {field}, byte: {}): invalid utf-8: invalid UTF-8 in field {field} near byte index {valid_up_to}",
                self.line, self.byte
            ),
        };
        Error::new(ErrorCode::Parse, msg).line(self.line)
    }
}

/// The text of every field of a record with no quoting to undo, or the UTF-8 error the
/// `csv` crate reported (field index, valid bytes).
/// The one whitespace rule for every cell, quoted or not, whatever its field: spaces and tabs
/// at either end are not part of the value (`1, B1, api` reads `B1` and `api`, as decimals
/// always did), so a padded broker code or channel never settles as another value.
const PAD: [char; 2] = [' ', '\t'];

fn texts<'a>(
    buf: &'a [u8],
    fields: &[Field],
    cells: &mut Vec<&'a str>,
) -> core::result::Result<(), (usize, usize)> {
    cells.clear();
    let (a, b) = (fields[0].start, fields[fields.len() - 1].end);
    // Separators and quotes are ASCII, so the record is UTF-8 exactly when every field is.
    match core::str::from_utf8(&buf[a..b]) {
        Ok(text) => {
            for f in fields {
                cells.push(text[f.start - a..f.end - a].trim_matches(PAD));
            }
            Ok(())
        }
        Err(_) => {
            for (i, f) in fields.iter().enumerate() {
                if let Err(e) = core::str::from_utf8(&buf[f.start..f.end]) {
                    return Err((i, e.valid_up_to()));
                }
            }
            Err((0, 0))
        }
    }
}

/// [`texts`] for a record with quoting to undo.
fn owned_texts(buf: &[u8], fields: &[Field]) -> core::result::Result<Vec<String>, (usize, usize)> {
    let mut out = Vec::with_capacity(fields.len());
    for (i, f) in fields.iter().enumerate() {
        let mut v = Vec::new();
        if f.raw {
            unquote(&buf[f.start..f.end], &mut v);
        } else {
            v.extend_from_slice(&buf[f.start..f.end]);
        }
        match String::from_utf8(v) {
            Ok(s) => out.push(s.trim_matches(PAD).to_string()),
            Err(e) => return Err((i, e.utf8_error().valid_up_to())),
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// The header.

/// The columns of a CSV input.
#[derive(Clone, Debug)]
pub(crate) struct Header {
    /// Column names after trimming and renaming.
    names: Vec<String>,
    roles: Vec<Role>,
}

impl Header {
    /// Checks a header row (its cells as read) as the reader always has: in strict mode an
    /// unknown column is an error; every required column must be there.
    pub(crate) fn new<S: AsRef<str>>(cells: &[S], map: &ColumnMap, strict: bool) -> Result<Self> {
        let trimmed: Vec<String> = cells
            .iter()
            .map(|h| h.as_ref().trim().to_string())
            .collect();
        let names = map.apply(&trimmed).map_err(|e| e.line(1))?;
        let roles: Vec<Role> = names.iter().map(|n| role(n)).collect();
        if strict {
            if let Some(i) = roles.iter().position(|r| *r == Role::Unknown) {
                return Err(
                    Error::new(ErrorCode::Field, format!("unknown column {:?}", names[i]))
                        .field(names[i].as_str())
                        .line(1)
                        .column(i as u64 + 1),
                );
            }
        }
        for req in REQUIRED {
            if !names.iter().any(|h| h == req) {
                return Err(Error::new(
                    ErrorCode::Field,
                    format!("the CSV header has no {req} column"),
                )
                .field(req)
                .line(1));
            }
        }
        Ok(Header { names, roles })
    }
}

/// Reads and checks the header row (a read error there is fatal).
fn read_header<R: Read>(src: &mut Source<R>, map: &ColumnMap, strict: bool) -> Result<Header> {
    let mut fields = Vec::new();
    let mut want = 64 << 10;
    loop {
        src.fill(want);
        if let Some(e) = src.error.take() {
            return Err(io_error(&e));
        }
        let bom = if src.buf.starts_with(b"\xef\xbb\xbf") {
            3
        } else if src.eof || src.buf.len() >= 3 {
            0
        } else {
            want = src.buf.len() + (64 << 10);
            continue;
        };
        let (p, nl) = skip_terms(&src.buf, bom);
        if p == src.buf.len() {
            if src.eof {
                // No header row at all.
                src.consume(p, nl);
                return Header::new::<&str>(&[], map, strict);
            }
            want = src.buf.len() + (64 << 10);
            continue;
        }
        let Some((end, inner)) = scan_record(&src.buf, p, src.eof, &mut fields) else {
            want = src.buf.len() + BLOCK;
            continue;
        };
        let cells = if fields.iter().any(|f| f.raw) {
            owned_texts(&src.buf, &fields)
        } else {
            let mut cells = Vec::new();
            texts(&src.buf, &fields, &mut cells)
                .map(|()| cells.iter().map(|c| c.to_string()).collect())
        };
        let header = match cells {
            Ok(cells) => Header::new(&cells, map, strict)?,
            Err((field, valid_up_to)) => {
                return Err(Structural {
                    local: 0,
                    line: src.line + nl,
                    byte: p as u64,
                    kind: Kind::Utf8 { field, valid_up_to },
                }
                .error(0))
            }
        };
        src.consume(end, nl + inner);
        return Ok(header);
    }
}

// ---------------------------------------------------------------------------------------
// Records to trades.

/// Where a chunk starts in the input.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Cursor {
    pub byte: u64,
    pub line: u64,
    /// The number of the chunk's first record (the header is 0), when known.
    pub record: Option<u64>,
}

/// Why a chunk stopped early.
pub(crate) enum Stop {
    Fatal(Error),
    /// Strict mode, a CSV-level error whose record number is not known yet.
    Structural(Structural),
}

impl From<Error> for Stop {
    fn from(e: Error) -> Self {
        Stop::Fatal(e)
    }
}

/// Turns records into trades: clean ones into column batches, others through the row path.
pub(crate) struct Parser<'h> {
    h: &'h Header,
    rows: Rows,
    fields: Vec<Field>,
    /// Non-empty cells of unknown columns not yet noted.
    unknown: u64,
    /// Trade records read (not counting CSV-level errors).
    pub records: u64,
    /// CSV-level errors of chunks whose record numbers are not known (lenient mode).
    pub deferred: Vec<Structural>,
}

impl<'h> Parser<'h> {
    pub fn new(h: &'h Header) -> Self {
        Parser {
            h,
            rows: Rows::default(),
            fields: Vec::new(),
            unknown: 0,
            records: 0,
            deferred: Vec::new(),
        }
    }

    /// Parses the whole records of `buf` (all of it when `eof`); returns the bytes used and
    /// the newlines in them, and the number of records met (CSV-level errors included).
    pub fn chunk<S: Sink>(
        &mut self,
        s: &mut S,
        buf: &[u8],
        eof: bool,
        at: Cursor,
    ) -> core::result::Result<(usize, u64, u64), Stop> {
        let mut fields = core::mem::take(&mut self.fields);
        let r = self.chunk_inner(s, buf, eof, at, &mut fields);
        self.fields = fields;
        r
    }

    fn chunk_inner<S: Sink>(
        &mut self,
        s: &mut S,
        buf: &[u8],
        eof: bool,
        at: Cursor,
        fields: &mut Vec<Field>,
    ) -> core::result::Result<(usize, u64, u64), Stop> {
        let mut p = 0;
        let mut lines = 0u64;
        let mut local = 0u64;
        let mut cells: Vec<&str> = Vec::with_capacity(self.h.names.len());
        loop {
            let (q, nl) = skip_terms(buf, p);
            lines += nl;
            p = q;
            if p == buf.len() {
                break;
            }
            let Some((next, inner)) = scan_record(buf, p, eof, fields) else {
                break;
            };
            let line = at.line + lines;
            let structural = |kind| Structural {
                local,
                line,
                byte: at.byte + p as u64,
                kind,
            };
            let text = if fields.len() != self.h.names.len() {
                Err(structural(Kind::Unequal {
                    len: fields.len(),
                    expected: self.h.names.len(),
                }))
            } else if fields.iter().any(|f| f.raw) {
                owned_texts(buf, fields)
                    .map(Some)
                    .map_err(|(field, valid_up_to)| structural(Kind::Utf8 { field, valid_up_to }))
            } else {
                texts(buf, fields, &mut cells)
                    .map(|()| None)
                    .map_err(|(field, valid_up_to)| structural(Kind::Utf8 { field, valid_up_to }))
            };
            match text {
                Err(b) => self.structural(s, b, at.record)?,
                Ok(None) => {
                    self.records += 1;
                    self.record(s, &cells, line)?;
                }
                Ok(Some(owned)) => {
                    self.records += 1;
                    let cells: Vec<&str> = owned.iter().map(String::as_str).collect();
                    self.record(s, &cells, line)?;
                }
            }
            cells.clear();
            lines += inner;
            local += 1;
            p = next;
        }
        if self.unknown > 0 {
            s.note_unknown_fields(self.unknown);
            self.unknown = 0;
        }
        Ok((p, lines, local))
    }

    fn structural<S: Sink>(
        &mut self,
        s: &mut S,
        b: Structural,
        record: Option<u64>,
    ) -> core::result::Result<(), Stop> {
        match record {
            Some(r) => {
                self.rows.flush(s)?;
                let e = b.error(r + b.local);
                s.reject(None, Some(b.line), e)?;
            }
            None if s.strict() => {
                self.rows.flush(s)?;
                return Err(Stop::Structural(b));
            }
            None => self.deferred.push(b),
        }
        Ok(())
    }

    /// Sends the rows still in the batch.
    pub fn flush<S: Sink>(&mut self, s: &mut S) -> Result<()> {
        self.rows.flush(s)
    }

    fn record<S: Sink>(&mut self, s: &mut S, cells: &[&str], line: u64) -> Result<()> {
        let h = self.h;
        if self.clean(cells, line) {
            if self.rows.len() >= BATCH_ROWS {
                self.rows.flush(s)?;
            }
            return Ok(());
        }
        for (i, c) in cells.iter().enumerate() {
            if h.roles[i] == Role::Unknown && !c.is_empty() {
                self.unknown += 1;
            }
        }
        // The row path, in input order: what is batched goes first.
        self.rows.flush(s)?;
        let mut b = TradeBuilder::default();
        let mut bad = None;
        for (i, cell) in cells.iter().enumerate() {
            if let Err(e) = b.set(&h.names[i], Raw::Str(cell)) {
                bad = Some(e.column(i as u64 + 1));
                break;
            }
        }
        let id = b.id;
        let built = match bad {
            Some(e) => Err(e),
            None => b.finish().map_err(|e| e.at_column_of(&h.names)),
        };
        match built {
            Ok(t) => s.push(&t, Some(line)),
            Err(e) => s.reject(id, Some(line), e.line(line)),
        }
    }

    /// Adds the record to the batch if every value is plain; false (nothing added) if not.
    #[inline]
    fn clean(&mut self, cells: &[&str], line: u64) -> bool {
        let mut id = "";
        let mut time = None;
        let mut account = "";
        let mut broker = None;
        let mut channel = "";
        let mut product = "";
        let mut master = None;
        let mut order = None;
        let mut instrument = None;
        let mut notional = None;
        let mut fee = None;
        let mut fee_rate = None;
        let mut liquidity = None;
        let mut vip = 0u32;
        let mut fee_discount = false;
        let mut msa = false;
        let mut affiliate_rate = 0i128;
        let mut unknown = 0u64;
        for (&c, &r) in cells.iter().zip(&self.h.roles) {
            match r {
                Role::Id => id = c,
                Role::Time => match time::parse(c) {
                    Ok(t) => time = Some(t),
                    Err(_) => return false,
                },
                Role::Account => account = c,
                Role::Broker => broker = (!c.is_empty()).then_some(c),
                Role::Channel => channel = c,
                Role::Product => product = c,
                Role::Master => master = (!c.is_empty()).then_some(c),
                Role::Order => order = (!c.is_empty()).then_some(c),
                Role::Instrument => instrument = (!c.is_empty()).then_some(c),
                Role::Notional => match fast_decimal(c.as_bytes()) {
                    Some(v) if v >= 0 => notional = Some(v),
                    _ => return false,
                },
                Role::Fee => match fast_decimal(c.as_bytes()) {
                    Some(v) => fee = Some(v),
                    None => return false,
                },
                Role::FeeRate => {
                    if !c.is_empty() {
                        match fast_decimal(c.as_bytes()) {
                            Some(v) => fee_rate = Some(v),
                            None => return false,
                        }
                    }
                }
                Role::AffiliateRate => {
                    if !c.is_empty() {
                        match fast_decimal(c.as_bytes()) {
                            Some(v) if (0..=ONE).contains(&v) => affiliate_rate = v,
                            _ => return false,
                        }
                    }
                }
                Role::Liquidity => {
                    liquidity = match c {
                        "" => None,
                        "maker" => Some(Liquidity::Maker),
                        "taker" => Some(Liquidity::Taker),
                        _ => return false,
                    }
                }
                Role::Vip => {
                    if !c.is_empty() {
                        match small_uint(c.as_bytes()) {
                            Some(v) => vip = v,
                            None => return false,
                        }
                    }
                }
                Role::FeeDiscount | Role::Msa => {
                    let yes = match c {
                        "" | "false" | "FALSE" | "False" | "0" => false,
                        "true" | "TRUE" | "True" | "1" => true,
                        _ => return false,
                    };
                    if r == Role::Msa {
                        msa = yes;
                    } else {
                        fee_discount = yes;
                    }
                }
                Role::Unknown => unknown += !c.is_empty() as u64,
            }
        }
        let (Some(time), Some(notional), Some(fee)) = (time, notional, fee) else {
            return false;
        };
        if id.is_empty() || account.is_empty() || channel.is_empty() || product.is_empty() {
            return false;
        }
        self.unknown += unknown;
        let r = &mut self.rows;
        let c = &mut r.cols;
        c.line.push(line);
        c.push_id(id);
        c.time.push(time);
        c.notional.push(notional);
        c.fee.push(fee);
        c.fee_rate.push(fee_rate);
        c.liquidity.push(liquidity);
        c.vip.push(vip);
        c.fee_discount.push(fee_discount);
        c.affiliate_rate.push(affiliate_rate);
        c.msa.push(msa);
        r.account.push(Some(account));
        r.broker.push(broker);
        r.channel.push(Some(channel));
        r.product.push(Some(product));
        r.master.push(master);
        r.order.push(order);
        r.instrument.push(instrument);
        true
    }
}

/// Digits only (as `u32::from_str` reads them, without a sign), within u32.
#[inline]
fn small_uint(b: &[u8]) -> Option<u32> {
    if b.is_empty() || b.len() > 10 {
        return None;
    }
    let mut v = 0u64;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as u64;
    }
    u32::try_from(v).ok()
}

// ---------------------------------------------------------------------------------------
// Driving the parser.

/// One thread: read a block, parse its whole records, keep the rest for the next block.
pub(crate) fn run_sequential<S: Sink, R: Read>(
    s: &mut S,
    h: &Header,
    mut src: Source<R>,
    block: usize,
    progress: Progress<'_>,
) -> Result<()> {
    let mut parser = Parser::new(h);
    let mut record = 1u64;
    let mut want = block;
    loop {
        src.fill(want);
        let at = Cursor {
            byte: src.byte,
            line: src.line,
            record: Some(record),
        };
        let (used, lines, n) = match parser.chunk(s, &src.buf, src.eof, at) {
            Ok(r) => r,
            Err(Stop::Fatal(e)) => return Err(e),
            Err(Stop::Structural(b)) => return Err(b.error(record + b.local)),
        };
        record += n;
        src.consume(used, lines);
        progress(src.byte, parser.records);
        if src.eof && (src.buf.is_empty() || used == 0) {
            break;
        }
        // A record longer than the buffer: read more before parsing again.
        want = if used == 0 {
            src.buf.len() + block
        } else {
            block
        };
    }
    parser.flush(s)?;
    if let Some(e) = src.error.take() {
        s.reject(None, None, io_error(&e))?;
    }
    progress(src.byte, parser.records);
    Ok(())
}

/// A chunk of whole records for a worker.
struct Chunk {
    index: usize,
    buf: Vec<u8>,
    at: Cursor,
}

/// What a worker did with one chunk.
struct Done {
    index: usize,
    records: u64,
}

/// A worker's first fatal problem: the line it is on, and what it is.
struct Failure {
    line: u64,
    index: usize,
    stop: Stop,
}

fn parallel<R: Read>(
    s: &mut Settler,
    forks: Vec<Settler>,
    h: &Header,
    mut src: Source<R>,
    block: usize,
    progress: Progress<'_>,
) -> Result<()> {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{mpsc, Arc, Mutex};

    let threads = forks.len();
    let stop_line = AtomicU64::new(u64::MAX);
    let records = AtomicU64::new(0);
    let (tx, rx) = mpsc::sync_channel::<Chunk>(threads * 2);
    let rx = Arc::new(Mutex::new(rx));

    type Outcome = (
        Settler,
        Vec<Done>,
        Vec<(usize, Structural)>,
        Option<Failure>,
    );
    let outcomes: Vec<Outcome> = std::thread::scope(|scope| {
        let mut handles = Vec::with_capacity(threads);
        for mut w in forks {
            let rx = Arc::clone(&rx);
            let (stop_line, records) = (&stop_line, &records);
            handles.push(scope.spawn(move || -> Outcome {
                let mut parser = Parser::new(h);
                let mut done = Vec::new();
                let mut deferred = Vec::new();
                let mut failure = None;
                loop {
                    let next = match rx.lock() {
                        Ok(r) => r.recv(),
                        Err(_) => break,
                    };
                    let Ok(chunk) = next else { break };
                    if chunk.at.line > stop_line.load(Ordering::Relaxed) {
                        continue;
                    }
                    let before = parser.records;
                    match parser.chunk(&mut w, &chunk.buf, true, chunk.at) {
                        Ok((_, _, n)) => {
                            done.push(Done {
                                index: chunk.index,
                                records: n,
                            });
                            deferred.extend(parser.deferred.drain(..).map(|b| (chunk.index, b)));
                        }
                        Err(stop) => {
                            failure = Some(Failure {
                                line: stop_line_of(&stop),
                                index: chunk.index,
                                stop,
                            });
                        }
                    }
                    records.fetch_add(parser.records - before, Ordering::Relaxed);
                    if failure.is_some() {
                        break;
                    }
                }
                if failure.is_none() {
                    if let Err(e) = parser.flush(&mut w) {
                        failure = Some(Failure {
                            line: e.location.line.unwrap_or(u64::MAX),
                            index: usize::MAX,
                            stop: Stop::Fatal(e),
                        });
                    }
                }
                if let Some(f) = &failure {
                    stop_line.fetch_min(f.line, Ordering::Relaxed);
                }
                (w, done, deferred, failure)
            }));
        }
        drop(rx);
        // This thread cuts the input into chunks of whole records.
        {
            let mut fields = Vec::new();
            let mut index = 0usize;
            let mut want = block;
            loop {
                src.fill(want);
                if src.buf.is_empty() {
                    break;
                }
                let cut = if src.eof {
                    Some(src.buf.len())
                } else {
                    last_boundary(&src.buf, &mut fields)
                };
                let Some(cut) = cut else {
                    want = src.buf.len() + block;
                    continue;
                };
                want = block;
                let rest = src.buf.split_off(cut);
                let buf = core::mem::replace(&mut src.buf, rest);
                let at = Cursor {
                    byte: src.byte,
                    line: src.line,
                    record: None,
                };
                let lines = count_nl(&buf);
                src.byte += buf.len() as u64;
                src.line += lines;
                if at.line > stop_line.load(Ordering::Relaxed) {
                    break;
                }
                if tx.send(Chunk { index, buf, at }).is_err() {
                    break;
                }
                index += 1;
                progress(src.byte, records.load(Ordering::Relaxed));
            }
            drop(tx);
        }
        handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(o) => o,
                Err(p) => std::panic::resume_unwind(p),
            })
            .collect()
    });

    // Record numbers: chunk by chunk, after the header (record 0).
    let mut counts: Vec<(usize, u64)> = Vec::new();
    let mut failures = Vec::new();
    let mut deferred = Vec::new();
    let mut settlers = Vec::new();
    for (w, done, d, f) in outcomes {
        counts.extend(done.iter().map(|d| (d.index, d.records)));
        deferred.extend(d);
        failures.extend(f);
        settlers.push(w);
    }
    counts.sort_unstable();
    let mut base = Vec::with_capacity(counts.len());
    let mut next = 1u64;
    for (i, n) in &counts {
        // Chunks that were skipped (after a strict-mode error) end the known prefix.
        if *i != base.len() {
            break;
        }
        base.push(next);
        next += n;
    }
    let record_of = |index: usize, b: &Structural| -> u64 {
        base.get(index).copied().unwrap_or(next) + b.local
    };
    if let Some(f) = failures.into_iter().min_by_key(|f| (f.line, f.index)) {
        return Err(match f.stop {
            Stop::Fatal(e) => e,
            Stop::Structural(b) => b.error(record_of(f.index, &b)),
        });
    }
    for w in settlers {
        s.merge(w)?;
    }
    deferred.sort_by_key(|(_, b)| b.line);
    for (i, b) in deferred {
        let e = b.error(record_of(i, &b));
        s.reject(None, Some(b.line), e)?;
    }
    if let Some(e) = src.error.take() {
        s.reject(None, None, io_error(&e))?;
    }
    progress(src.byte, records.load(std::sync::atomic::Ordering::Relaxed));
    Ok(())
}

fn stop_line_of(stop: &Stop) -> u64 {
    match stop {
        Stop::Fatal(e) => e.location.line.unwrap_or(u64::MAX),
        Stop::Structural(b) => b.line,
    }
}
