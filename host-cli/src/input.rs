//! Trade input: opening a file or stdin, choosing its format, and streaming it into a
//! settler with a progress bar. CSV and Parquet are read on several threads (each settles
//! its share into a fork of the settler; the forks merge), the rest on one.

use crate::{Fail, InFormat, R};
use broker_rules::read::{self, ColumnMap, Format};
use broker_rules::{Error, Settler};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::fs::File;
use std::io::{self, BufRead, BufReader, IsTerminal, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// An open trade input: a reader, its display name, its format, its size if known.
pub struct Input {
    pub name: String,
    /// The file, when the input is one (Parquet and Arrow IPC read it in place).
    pub path: Option<String>,
    pub reader: Box<dyn BufRead + Send>,
    pub format: Format,
    pub size: Option<u64>,
}

/// Worker threads: the `--threads` value, else every core.
pub fn threads(arg: Option<usize>) -> usize {
    arg.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1)
}

pub fn open_trades(path: Option<&str>, forced: Option<InFormat>) -> R<Input> {
    let Some(path) = path else {
        let bytes = crate::sample::bundled_csv();
        eprintln!(
            "broker-rules: no --trades given; using the bundled sample log ({} trades, June-July 2026, seed {}; \
             `broker-rules sample --out trades.csv` writes it)",
            crate::sample::DEFAULT_COUNT,
            crate::sample::DEFAULT_SEED
        );
        return Ok(Input {
            name: "<sample>".into(),
            path: None,
            size: Some(bytes.len() as u64),
            reader: Box::new(io::Cursor::new(bytes)),
            format: Format::Csv,
        });
    };
    let (name, mut reader, size): (String, Box<dyn BufRead + Send>, Option<u64>) = if path == "-" {
        (
            "<stdin>".into(),
            Box::new(BufReader::with_capacity(1 << 16, io::stdin())),
            None,
        )
    } else {
        let f = File::open(path).map_err(|e| Fail::io(&format!("cannot open {path}"), e))?;
        let size = f.metadata().ok().map(|m| m.len());
        (
            path.to_string(),
            Box::new(BufReader::with_capacity(1 << 16, f)),
            size,
        )
    };
    let format = match forced {
        Some(f) => f.into(),
        None => match Format::from_path(path) {
            Some(f) if path != "-" => f,
            _ => {
                let buf = reader
                    .fill_buf()
                    .map_err(|e| Fail::io(&format!("cannot read {name}"), e))?;
                if buf.starts_with(b"PAR1") {
                    Format::Parquet
                } else if buf.starts_with(b"ARROW1") || buf.starts_with(&[0xff, 0xff, 0xff, 0xff]) {
                    Format::Arrow
                } else {
                    match buf.iter().find(|b| !b.is_ascii_whitespace()) {
                        Some(b'[') => Format::Json,
                        Some(b'{') => Format::Ndjson,
                        _ => Format::Csv,
                    }
                }
            }
        },
    };
    Ok(Input {
        name,
        path: (path != "-").then(|| path.to_string()),
        reader,
        format,
        size,
    })
}

/// A progress bar on stderr that appears only after two seconds, and only on a terminal.
pub struct Progress {
    pub bar: ProgressBar,
    start: Instant,
    shown: bool,
    enabled: bool,
}

impl Progress {
    pub fn new(total: Option<u64>, what: &str) -> Self {
        let bar = match total {
            Some(n) => ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::hidden()),
            None => ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden()),
        };
        let style = if total.is_some() {
            ProgressStyle::with_template("{prefix} [{bar:30}] {bytes}/{total_bytes} {msg} ({eta})")
        } else {
            ProgressStyle::with_template("{prefix} {spinner} {bytes} {msg}")
        };
        if let Ok(s) = style {
            bar.set_style(s.progress_chars("=> "));
        }
        bar.set_prefix(what.to_string());
        Progress {
            bar,
            start: Instant::now(),
            shown: false,
            enabled: io::stderr().is_terminal(),
        }
    }

    pub fn tick(&mut self, pos: u64, msg: impl FnOnce() -> String) {
        if !self.enabled {
            return;
        }
        if !self.shown && self.start.elapsed() >= Duration::from_secs(2) {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
            self.shown = true;
        }
        if self.shown {
            self.bar.set_position(pos);
            self.bar.set_message(msg());
        }
    }

    pub fn done(self) {
        if self.shown {
            self.bar.finish_and_clear();
        }
    }
}

/// Counts bytes as they are read, for the progress bar (works for every format).
struct Counting<T> {
    inner: T,
    n: Arc<AtomicU64>,
}

impl<T: Read> Read for Counting<T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.n.fetch_add(k as u64, Ordering::Relaxed);
        Ok(k)
    }
}

/// Streams a trade input through a settler; the core's error as it is.
pub fn feed(
    settler: &mut Settler,
    mut input: Input,
    map: &ColumnMap,
    threads: usize,
    what: &str,
) -> Result<(), Error> {
    if let (Format::Csv, Some(size)) = (input.format, input.size) {
        // About how many trades: the file's size over the mean line length of its first
        // block. It sizes the seen-id tables once (speed and memory, never the result).
        if let Ok(head) = input.reader.fill_buf() {
            let lines = head.iter().filter(|&&b| b == b'\n').count() as u64;
            if lines > 1 && !head.is_empty() {
                settler.reserve(size * lines / head.len() as u64);
            }
        }
    }
    let mut progress = Progress::new(input.size, what);
    let counter = Arc::new(AtomicU64::new(0));
    // Parquet, Arrow and CSV files report the bytes read; other inputs are counted as read.
    let mut tick = |bytes: u64, records: u64| {
        let pos = match (input.format, &input.path) {
            (Format::Parquet | Format::Arrow, _) | (Format::Csv, Some(_)) => bytes,
            _ => counter.load(Ordering::Relaxed),
        };
        progress.tick(pos, || {
            format!("{} trades", crate::output::group(&records.to_string()))
        });
    };
    let r = match (input.format, &input.path) {
        (Format::Parquet, Some(path)) => match File::open(path) {
            Ok(f) => read::arrow::feed_parquet(settler, f, map, threads, &mut tick),
            Err(e) => Err(io_error(path, e)),
        },
        (Format::Arrow, Some(path)) => match File::open(path) {
            Ok(f) => read::arrow::feed_arrow_ipc(settler, BufReader::new(f), map, &mut tick),
            Err(e) => Err(io_error(path, e)),
        },
        // A CSV file can be read again (`read::csv::Reopen`): the same E_DUPLICATE_ID on
        // any number of threads.
        (Format::Csv, Some(path)) => {
            read::csv::feed_csv_reopen(settler, Path::new(path), map, threads, &mut tick)
        }
        (Format::Csv, _) => {
            let reader = Counting {
                inner: input.reader,
                n: counter.clone(),
            };
            read::csv::feed_csv_with(settler, reader, map, threads, &mut tick)
        }
        (format, _) => {
            let reader = Counting {
                inner: input.reader,
                n: counter.clone(),
            };
            read::feed_with(settler, reader, format, map, &mut tick)
        }
    };
    progress.done();
    r
}

fn io_error(path: &str, e: io::Error) -> Error {
    Error::new(
        broker_rules::ErrorCode::Parse,
        format!("cannot read {path}: {e}"),
    )
    .field("trades")
}

/// [`feed`], with a fatal error (strict mode, a conflicting duplicate id, an unreadable
/// header) located in the file.
pub fn feed_input(settler: &mut Settler, input: Input, map: &ColumnMap, threads: usize) -> R<()> {
    let name = input.name.clone();
    feed(settler, input, map, threads, "reading").map_err(|e| Fail::input(Some(&name), &e))
}
