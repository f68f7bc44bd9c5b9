//! Reader tests: the fast CSV reader against the previous (csv crate) reader, chunking and
//! threads, and the Arrow / Parquet readers against the same trades as JSON.

use super::csv::{feed_csv_blocks, feed_csv_reopen_blocks, scan_record};
use super::*;
use crate::settle::SettleOptions;
use crate::trade::{Raw, TradeBuilder};
use std::string::String;
use std::vec;

// ---------------------------------------------------------------------------------------
// The previous CSV reader (csv crate, String records), kept as the reference.

fn old_feed_csv<R: Read>(s: &mut Settler, input: R) -> Result<()> {
    let mut rdr = ::csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(input);
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| old_csv_error(&e))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let unknown: Vec<usize> = (0..headers.len())
        .filter(|&i| !trade::FIELDS.contains(&headers[i].as_str()))
        .collect();
    if s.strict() {
        if let Some(&i) = unknown.first() {
            return Err(
                Error::new(ErrorCode::Field, format!("unknown column {:?}", headers[i]))
                    .field(headers[i].as_str())
                    .line(1)
                    .column(i as u64 + 1),
            );
        }
    }
    for req in ["id", "time", "account", "channel", "product", "notional"] {
        if !headers.iter().any(|h| h == req) {
            return Err(Error::new(
                ErrorCode::Field,
                format!("the CSV header has no {req} column"),
            )
            .field(req)
            .line(1));
        }
    }
    let mut rec = ::csv::StringRecord::new();
    let mut n = 0u64;
    loop {
        match rdr.read_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let err = old_csv_error(&e);
                let line = err.location.line;
                s.reject(None, line, err)?;
                continue;
            }
        }
        n += 1;
        let line = rec.position().map(|p| p.line()).unwrap_or(n + 1);
        let mut b = TradeBuilder::default();
        let mut bad = None;
        for (i, cell) in rec.iter().enumerate() {
            if let Err(e) = b.set(&headers[i], Raw::Str(cell)) {
                bad = Some(e.column(i as u64 + 1));
                break;
            }
        }
        s.note_unknown_fields(unknown.iter().filter(|&&i| !rec[i].is_empty()).count() as u64);
        let id = b.id;
        let built = match bad {
            Some(e) => Err(e),
            None => b.finish().map_err(|e| e.at_column_of(&headers)),
        };
        // The contract since issue 11: a fatal error about a trade's field names its column.
        let column = |e: Error| {
            if e.location.column.is_none() && e.location.line.is_some() {
                e.at_column_of(&headers)
            } else {
                e
            }
        };
        match built {
            Ok(t) => s.push(&t, Some(line)).map_err(column)?,
            Err(e) => s.reject(id, Some(line), e.line(line)).map_err(column)?,
        }
    }
    Ok(())
}

fn old_csv_error(e: &::csv::Error) -> Error {
    let mut err = Error::new(ErrorCode::Parse, format!("malformed CSV: {e}"));
    if let Some(p) = e.position() {
        err = err.line(p.line());
    }
    err
}

// ---------------------------------------------------------------------------------------
// Helpers.

fn options(strict: bool, lines: bool) -> SettleOptions {
    SettleOptions {
        strict,
        lines,
        ..SettleOptions::default()
    }
}

fn settler(program: &str, o: &SettleOptions) -> Settler {
    Settler::new(&crate::program(program).unwrap(), None, o).unwrap()
}

/// The statement's JSON, or the error's.
fn outcome(s: Settler, fed: Result<()>) -> String {
    match fed.and_then(|()| s.finish()) {
        Ok(st) => serde_json::to_string(&st).unwrap(),
        Err(e) => format!("error {}", serde_json::to_string(&e).unwrap()),
    }
}

fn old(program: &str, o: &SettleOptions, text: &[u8]) -> String {
    let mut s = settler(program, o);
    let r = old_feed_csv(&mut s, text);
    outcome(s, r)
}

fn new(program: &str, o: &SettleOptions, text: &[u8], threads: usize, block: usize) -> String {
    let mut s = settler(program, o);
    let r = feed_csv_blocks(
        &mut s,
        text,
        &ColumnMap::default(),
        threads,
        block,
        &mut |_, _| {},
    );
    let chunked = outcome(s, r);
    // The same input through the reader for inputs that can be read again (files, bytes in
    // memory) gives the same bytes, errors and record numbers included.
    let again = reopen(program, o, text, threads, block);
    // (Except which line of a conflicting pair a stream on several threads names; see
    // `read::csv::Reopen`.)
    if !(threads > 1 && again.contains(r#""code":"E_DUPLICATE_ID""#)) {
        assert_eq!(
            again, chunked,
            "reopen vs stream: {program} threads={threads} block={block}"
        );
    }
    again
}

/// [`new`] through the reader for inputs that can be read again.
fn reopen(program: &str, o: &SettleOptions, text: &[u8], threads: usize, block: usize) -> String {
    let mut s = settler(program, o);
    let r = feed_csv_reopen_blocks(
        &mut s,
        &text,
        &ColumnMap::default(),
        threads,
        block,
        &mut |_, _| {},
    );
    outcome(s, r)
}

fn fixture(name: &str) -> Vec<u8> {
    let p = format!(
        "{}/../host-cli/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

const PROGRAMS: [&str; 3] = ["backpack", "xt", "okx"];

/// Old and new agree for every program, both modes, with and without lines, on 1 and 2
/// threads and with the input cut in small blocks.
fn assert_same_as_old(text: &[u8], what: &str) {
    for program in PROGRAMS {
        for strict in [false, true] {
            for lines in [false, true] {
                let o = options(strict, lines);
                let want = old(program, &o, text);
                for (threads, block) in [(1, 4 << 20), (2, 4 << 20), (1, 7), (2, 61), (3, 5)] {
                    let got = new(program, &o, text, threads, block);
                    assert_eq!(
                        got, want,
                        "{what}: {program} strict={strict} lines={lines} threads={threads} block={block}"
                    );
                }
            }
        }
    }
}

/// A CSV cell, quoted when it must be.
fn cell(v: &str) -> String {
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_string()
    }
}

fn csv_of(header: &[&str], rows: &[Vec<String>]) -> Vec<u8> {
    let mut t = header.join(",");
    t.push('\n');
    for r in rows {
        t.push_str(&r.iter().map(|c| cell(c)).collect::<Vec<_>>().join(","));
        t.push('\n');
    }
    t.into_bytes()
}

/// A small deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
}

const HEADER: [&str; 14] = [
    "id",
    "time",
    "account",
    "broker",
    "channel",
    "product",
    "notional",
    "fee",
    "fee_rate",
    "liquidity",
    "vip",
    "fee_discount",
    "affiliate_rate",
    "note",
];

/// A trade log with clean rows and every kind of row the row path takes.
fn random_log(seed: u64, n: usize) -> Vec<u8> {
    let mut r = Rng(seed);
    let mut rows = Vec::new();
    for i in 0..n {
        let day = 1 + r.below(28);
        let mut row: Vec<String> = vec![
            format!(
                "t{}",
                if r.below(20) == 0 {
                    r.below(i as u64 + 1)
                } else {
                    i as u64
                }
            ),
            format!(
                "2026-06-{day:02}T{:02}:{:02}:{:02}{}Z",
                r.below(24),
                r.below(60),
                r.below(60),
                r.pick(&["", ".5", ".123", ".123456789"])
            ),
            format!("c{}", r.below(50)),
            r.pick(&["B1", "B2", "B3", ""]).to_string(),
            r.pick(&["api", "api", "oauth", "web", "app"]).to_string(),
            r.pick(&["spot", "spot", "futures", "swap", "margin", "options"])
                .to_string(),
            format!("{}.{}", r.below(100_000), r.below(100)),
            format!("{}.{:04}", r.below(50), r.below(10_000)),
            r.pick(&["", "0.0005", "0.001"]).to_string(),
            r.pick(&["", "maker", "taker"]).to_string(),
            r.pick(&["", "0", "1", "3"]).to_string(),
            r.pick(&["", "true", "false", "0", "1"]).to_string(),
            r.pick(&["", "0", "0.1", "0.25"]).to_string(),
            r.pick(&["", "", "x"]).to_string(),
        ];
        // Rows the row path takes: a fee from fee_rate, errors, unusual text.
        match r.below(40) {
            0 => row[7] = String::new(),
            1 => {
                row[7] = String::new();
                row[8] = "0.0005".into();
            }
            2 => row[6] = "1e5".into(),
            3 => row[6] = "-5".into(),
            4 => row[1] = "yesterday".into(),
            5 => row[7] = " 12.5 ".into(),
            6 => row[12] = "1.5".into(),
            7 => row[10] = "-1".into(),
            8 => row[9] = "both".into(),
            9 => row[11] = "yes".into(),
            10 => row[7] = "0.0000000000000000001".into(),
            11 => row[6] = "123456789012345678901".into(),
            12 => row[2] = String::new(),
            13 => row[2] = "c, \"quoted\"\nwith a newline".into(),
            14 => row[1] = "2026-06-10T08:00:00+08:00".into(),
            15 => row[6] = "+7.".into(),
            16 => row[5] = "perp".into(),
            17 => row[4] = "fix".into(),
            18 => row[7] = "-0.5".into(),
            19 => row[10] = "+2".into(),
            _ => {}
        }
        rows.push(row);
    }
    let mut t = csv_of(&HEADER, &rows);
    // CSV-level errors: a short record and one that is not UTF-8.
    if n > 10 {
        t.extend_from_slice(b"tx,2026-06-01T00:00:00Z,c1\n");
        t.extend_from_slice(b"ty,2026-06-01T00:00:00Z,c\xff1,B1,api,spot,1,1,,,,,,\n");
    }
    t
}

// ---------------------------------------------------------------------------------------
// The CSV reader.

#[test]
fn fast_decimal_reads_plain_decimals_exactly() {
    let one = crate::columns::ONE;
    assert_eq!(fast_decimal(b"1"), Some(one));
    assert_eq!(fast_decimal(b"-1.5"), Some(-one - one / 2));
    assert_eq!(fast_decimal(b"+0.000000000000000001"), Some(1));
    assert_eq!(fast_decimal(b"5."), Some(5 * one));
    assert_eq!(fast_decimal(b".5"), Some(one / 2));
    assert_eq!(fast_decimal(b"-0"), Some(0));
    assert_eq!(
        fast_decimal(b"99999999999999999999"),
        Some(99999999999999999999 * one)
    );
    for bad in [
        &b""[..],
        b"-",
        b".",
        b"1e5",
        b" 1",
        b"1 ",
        b"1.2.3",
        b"0.0000000000000000001",
        b"100000000000000000000",
        b"1234567890.1234567890123456789",
        b"NaN",
        b"1,5",
    ] {
        assert_eq!(fast_decimal(bad), None, "{}", String::from_utf8_lossy(bad));
    }
    // Whatever the fast path reads, money::parse reads to the same value.
    for t in [
        "0",
        "1.25",
        "-3.000",
        "12345678901234567890",
        "0.123456789012345678",
    ] {
        let d = crate::money::parse(t).unwrap();
        assert_eq!(crate::columns::fixed(d), fast_decimal(t.as_bytes()), "{t}");
    }
}

#[test]
fn csv_fixtures_match_the_previous_reader() {
    for name in [
        "backpack_month.csv",
        "bad_row.csv",
        "duplicate.csv",
        "missing_column.csv",
        "negative.csv",
        "scientific.csv",
    ] {
        assert_same_as_old(&fixture(name), name);
    }
}

#[test]
fn csv_errors_keep_code_message_line_column_and_field() {
    let o = options(true, false);
    let err = |text: &[u8]| new("backpack", &o, text, 1, 4 << 20);
    assert_eq!(
        err(&fixture("scientific.csv")),
        r#"error {"code":"E_DECIMAL","message":"\"1e5\" is not a decimal: scientific notation is not accepted; write the digits out, e.g. \"0.00012\"","location":{"field":"notional","line":2,"column":7,"id":"t1"}}"#
    );
    assert_eq!(
        err(&fixture("bad_row.csv")),
        r#"error {"code":"E_PARSE","message":"malformed CSV: CSV error: record 2 (line: 3, byte: 128): found record with 5 fields, but the previous record has 9 fields","location":{"line":3}}"#
    );
    assert_eq!(
        err(&fixture("missing_column.csv")),
        r#"error {"code":"E_FIELD","message":"the CSV header has no account column","location":{"field":"account","line":1}}"#
    );
    assert_eq!(
        err(b"id,time,account,channel,product,notional,fee,memo\n"),
        r#"error {"code":"E_FIELD","message":"unknown column \"memo\"","location":{"field":"memo","line":1,"column":8}}"#
    );
    // Not UTF-8: the csv crate's message, record and byte.
    let text = b"id,time,account,channel,product,notional,fee\nt1,2026-06-01T00:00:00Z,c\xe91,api,spot,1,1\n";
    assert_eq!(err(text), old("backpack", &o, text));
    assert!(err(text).contains("invalid UTF-8 in field 2 near byte index 1"));
}

#[test]
fn csv_vectors_match_the_previous_reader() {
    let dir = format!("{}/../tests/vectors", env!("CARGO_MANIFEST_DIR"));
    let mut checked = 0;
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    for p in paths {
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        if v["call"] != "settle" {
            continue;
        }
        let input = &v["input"];
        let Some(trades) = input["trades"].as_array() else {
            continue;
        };
        let Some(program) = input["program"].as_str() else {
            continue;
        };
        if trades.is_empty()
            || !trades.iter().all(|t| t.is_object())
            || input.get("registry").is_some_and(|r| !r.is_null())
        {
            continue;
        }
        let mut keys: Vec<String> = Vec::new();
        for t in trades {
            for k in t.as_object().unwrap().keys() {
                if !keys.contains(k) {
                    keys.push(k.clone());
                }
            }
        }
        let rows: Vec<Vec<String>> = trades
            .iter()
            .map(|t| {
                keys.iter()
                    .map(|k| match &t[k.as_str()] {
                        serde_json::Value::Null => String::new(),
                        serde_json::Value::String(s) => s.clone(),
                        x => x.to_string(),
                    })
                    .collect()
            })
            .collect();
        let header: Vec<&str> = keys.iter().map(String::as_str).collect();
        let text = csv_of(&header, &rows);
        let o: SettleOptions = serde_json::from_value(input["options"].clone()).unwrap_or_default();
        // Padded values are data in JSON but trimmed in CSV (one whitespace rule): not comparable.
        let padded = trades.iter().any(|t| {
            t.as_object()
                .unwrap()
                .values()
                .any(|v| v.as_str().is_some_and(|x| x.trim() != x))
        });
        if padded {
            continue;
        }
        // Vectors whose program or options are wrong on purpose have no trades to read.
        let Ok(prog) = crate::program(program) else {
            continue;
        };
        if Settler::new(&prog, None, &o).is_err() {
            continue;
        }
        let want = old(program, &o, &text);
        for (threads, block) in [(1, 4 << 20), (2, 4 << 20), (2, 50), (1, 3)] {
            assert_eq!(
                new(program, &o, &text, threads, block),
                want,
                "{}",
                p.display()
            );
        }
        checked += 1;
    }
    assert!(checked > 50, "only {checked} vectors");
}

#[test]
fn csv_random_logs_match_the_previous_reader() {
    for seed in 0..6 {
        let text = random_log(seed, 300);
        for program in PROGRAMS {
            for strict in [false, true] {
                let o = options(strict, false);
                let want = old(program, &o, &text);
                for (threads, block) in [(1, 4 << 20), (1, 97), (2, 4 << 20), (2, 500), (4, 333)] {
                    assert_eq!(
                        new(program, &o, &text, threads, block),
                        want,
                        "seed {seed} {program} strict={strict} threads={threads} block={block}"
                    );
                }
            }
        }
    }
}

#[test]
fn csv_quoted_cells_with_commas_quotes_and_newlines() {
    let text = b"id,time,account,broker,channel,product,notional,fee\n\
\"t1\",2026-06-03T10:00:00Z,\"client, a\",BKR,api,spot,\"4000000\",2000\n\
t2,2026-06-12T15:30:00Z,\"multi\nline \"\"account\"\"\",BKR,api,spot,4800000,2400\n\
t3,2026-06-25T08:15:00Z,c\"3,BKR,api,spot,1200000,\"60\"0\n\
t4,2026-06-25T08:15:00Z,c4,BKR,api,spot,x,600\n";
    assert_same_as_old(text, "quoted");
    // The record after a quoted newline is on its physical line, as before.
    let st = new("backpack", &options(false, false), text, 1, 4 << 20);
    assert!(
        st.contains(r#""rejected":[{"id":"t4","line":6,"code":"E_DECIMAL""#),
        "{st}"
    );
    // Quoting undone: the account of t2 is the text between the quotes.
    let mut fields = Vec::new();
    let t = &text[..];
    let start = t.iter().position(|&b| b == b'\n').unwrap() + 1;
    let (next, nl) = scan_record(t, start, true, &mut fields).unwrap();
    assert_eq!((fields.len(), nl), (8, 0));
    let (_, nl) = scan_record(t, next + 1, true, &mut fields).unwrap();
    assert_eq!(nl, 1);
}

#[test]
fn csv_tokenizer_matches_the_csv_crate() {
    // Random texts over the characters that matter; every record's fields as the csv crate
    // reads them (it is the reference for quoting quirks).
    let alphabet: &[&[u8]] = &[
        b"a",
        b"1",
        b",",
        b"\"",
        b"\n",
        b"\r",
        b" ",
        b"\r\n",
        b"\"\"",
        "é".as_bytes(),
    ];
    let mut r = Rng(7);
    for _ in 0..3000 {
        let len = r.below(30) as usize;
        let mut text = Vec::new();
        for _ in 0..len {
            text.extend_from_slice(alphabet[r.below(alphabet.len() as u64) as usize]);
        }
        let mut want: Vec<Vec<Vec<u8>>> = Vec::new();
        let mut rdr = ::csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(&text[..]);
        let mut rec = ::csv::ByteRecord::new();
        while rdr.read_byte_record(&mut rec).unwrap() {
            want.push(rec.iter().map(|f| f.to_vec()).collect());
        }
        // Ours, fed whole and fed as far as whole records go before the rest arrives.
        for cut in [text.len(), len / 2, 1] {
            let cut = cut.min(text.len());
            let mut got: Vec<Vec<Vec<u8>>> = Vec::new();
            let mut fields = Vec::new();
            let mut p = 0;
            let mut avail = cut;
            loop {
                while p < avail && (text[p] == b'\n' || text[p] == b'\r') {
                    p += 1;
                }
                if p == text.len() {
                    break;
                }
                let eof = avail == text.len();
                match scan_record(&text[..avail], p, eof, &mut fields) {
                    Some((next, _)) => {
                        got.push(
                            fields
                                .iter()
                                .map(|f| field_bytes(&text[..avail], f))
                                .collect(),
                        );
                        p = next;
                    }
                    None => avail = text.len(),
                }
            }
            assert_eq!(got, want, "{:?} cut {cut}", String::from_utf8_lossy(&text));
        }
    }
}

fn field_bytes(buf: &[u8], f: &super::csv::Field) -> Vec<u8> {
    super::csv::field_text(buf, f)
}

#[test]
fn csv_split_at_every_position_gives_the_same_statement() {
    let mut text = random_log(11, 14);
    // Quoting across lines, \r\n, a blank line and a last record without a terminator.
    text.extend_from_slice(
        b"q1,2026-06-02T00:00:00Z,\"a,\nb\"\"c\",B1,api,spot,10,1,,,,,,\r\n\r\nq2,2026-06-02T00:00:00Z,c2,B1,api,spot,5,1,,,,,,\"x\"",
    );
    for program in ["backpack"] {
        for strict in [false, true] {
            let o = options(strict, false);
            let want = new(program, &o, &text, 1, 4 << 20);
            assert_eq!(want, old(program, &o, &text));
            for block in 1..text.len() + 1 {
                assert_eq!(
                    new(program, &o, &text, 1, block),
                    want,
                    "1 thread, block {block}"
                );
                assert_eq!(
                    new(program, &o, &text, 2, block),
                    want,
                    "2 threads, block {block}"
                );
            }
        }
    }
}

#[test]
fn csv_strict_parallel_reports_the_first_error_in_the_file() {
    let mut rows = Vec::new();
    for i in 0..2000 {
        rows.push(vec![
            format!("t{i}"),
            "2026-06-03T10:00:00Z".into(),
            format!("c{}", i % 7),
            "BKR".into(),
            "api".into(),
            "spot".into(),
            if i == 1500 || i == 1700 {
                "bad".into()
            } else {
                "100".into()
            },
            "0.05".into(),
        ]);
    }
    let text = csv_of(&HEADER[..8], &rows);
    let o = options(true, false);
    let want = old("backpack", &o, &text);
    assert!(want.contains(r#""line":1502"#), "{want}");
    for threads in [2, 3, 4] {
        for block in [100, 1000, 5000, 40_000] {
            assert_eq!(new("backpack", &o, &text, threads, block), want);
        }
    }
}

#[test]
fn csv_physical_lines_after_crlf_and_blank_lines() {
    // The csv crate put a record after \r\n or a blank line on the previous line; the
    // reader reports the line the record is on.
    let text = b"id,time,account,broker,channel,product,notional,fee\r\nt1,2026-06-03T10:00:00Z,c1,BKR,api,spot,x,1\r\n\r\nt2,2026-06-03T10:00:00Z,c1,BKR,api,spot,y,1\r\n";
    let st = new("backpack", &options(false, false), text, 1, 4 << 20);
    assert!(st.contains(r#"{"id":"t1","line":2,"#), "{st}");
    assert!(st.contains(r#"{"id":"t2","line":4,"#), "{st}");
    // Everything else is the same.
    let lf = String::from_utf8(text.to_vec())
        .unwrap()
        .replace("\r\n", "\n")
        .replace("\n\n", "\n");
    let want = old("backpack", &options(false, false), lf.as_bytes())
        .replace(r#""line":3"#, r#""line":4"#);
    assert_eq!(st, want);
}

#[test]
fn csv_byte_order_mark_and_trimmed_headers() {
    let plain = fixture("backpack_month.csv");
    let mut bom = b"\xef\xbb\xbf".to_vec();
    bom.extend_from_slice(&plain);
    let o = options(true, false);
    assert_eq!(
        new("backpack", &o, &bom, 1, 4 << 20),
        old("backpack", &o, &plain)
    );
    let spaced = String::from_utf8(plain.clone())
        .unwrap()
        .replacen("id,time", " id , time ", 1);
    assert_eq!(
        new("backpack", &o, spaced.as_bytes(), 1, 4 << 20),
        old("backpack", &o, &plain)
    );
}

#[test]
fn csv_column_map_renames_headers() {
    let plain = fixture("backpack_month.csv");
    let renamed = String::from_utf8(plain.clone()).unwrap().replacen(
        "id,time,account",
        "trade_id,ts,user_id",
        1,
    );
    let map = ColumnMap::parse(&["trade_id=id,ts=time", "user_id=account"]).unwrap();
    let o = options(true, false);
    let mut s = settler("backpack", &o);
    let r = feed_csv_blocks(&mut s, renamed.as_bytes(), &map, 1, 1 << 20, &mut |_, _| {});
    assert_eq!(outcome(s, r), old("backpack", &o, &plain));
    // Renamed onto a column that is there: an error naming both.
    let map = ColumnMap::parse(&["account=id"]).unwrap();
    let mut s = settler("backpack", &o);
    let e = feed_csv_blocks(&mut s, &plain[..], &map, 1, 1 << 20, &mut |_, _| {}).unwrap_err();
    assert_eq!(e.code, ErrorCode::Field);
    assert_eq!(
        (
            e.location.field.as_deref(),
            e.location.line,
            e.location.column
        ),
        (Some("id"), Some(1), Some(3))
    );
    assert!(
        e.message.contains("\"id\" and \"account\""),
        "{}",
        e.message
    );
}

#[test]
fn column_map_parses_and_refuses_unknown_fields() {
    let m = ColumnMap::parse(&["trade_id=id", " ts = time ,broker_code=broker"]).unwrap();
    assert_eq!(m.target("trade_id"), "id");
    assert_eq!(m.target("ts"), "time");
    assert_eq!(m.target("broker_code"), "broker");
    assert_eq!(m.target("other"), "other");
    let e = ColumnMap::parse(&["x=identifier"]).unwrap_err();
    assert_eq!(e.code, ErrorCode::Options);
    assert!(
        e.message.contains("\"identifier\" is not a trade field"),
        "{}",
        e.message
    );
    assert_eq!(
        ColumnMap::parse(&["x"]).unwrap_err().code,
        ErrorCode::Options
    );
    let e = m.apply(&["trade_id", "id"]).unwrap_err();
    assert_eq!((e.code, e.location.column), (ErrorCode::Field, Some(2)));
}

#[test]
fn ndjson_and_json_take_the_column_map() {
    let o = options(true, false);
    let want = old("backpack", &o, &fixture("backpack_month.csv"));
    let json = String::from_utf8(fixture("backpack_month.json"))
        .unwrap()
        .replace("\"id\"", "\"trade_id\"");
    let nd = String::from_utf8(fixture("backpack_month.ndjson"))
        .unwrap()
        .replace("\"id\"", "\"trade_id\"");
    let map = ColumnMap::parse(&["trade_id=id"]).unwrap();
    for (text, f) in [(json, Format::Json), (nd, Format::Ndjson)] {
        let mut s = settler("backpack", &o);
        let r = feed_with(&mut s, text.as_bytes(), f, &map, &mut |_, _| {});
        assert_eq!(outcome(s, r), want, "{f:?}");
    }
}

#[test]
fn formats_by_extension_and_name() {
    assert_eq!(Format::from_path("a/b.PARQUET"), Some(Format::Parquet));
    assert_eq!(Format::from_path("x.feather"), Some(Format::Arrow));
    assert_eq!(Format::from_path("x.ipc"), Some(Format::Arrow));
    assert_eq!(Format::from_path("x.arrow"), Some(Format::Arrow));
    assert_eq!(Format::from_name("parquet"), Some(Format::Parquet));
    assert_eq!(Format::from_name("arrow"), Some(Format::Arrow));
    assert_eq!(Format::from_path("x.csv"), Some(Format::Csv));
}

/// Counts what the CSV parser produces, settling nothing (the parse-only benchmark).
#[derive(Default)]
pub(super) struct Count {
    pub rows: u64,
    pub slow: u64,
    pub batches: u64,
}

impl Sink for Count {
    fn strict(&self) -> bool {
        false
    }
    fn push(&mut self, _: &TradeRef<'_>, _: Option<u64>) -> Result<()> {
        self.slow += 1;
        Ok(())
    }
    fn reject(&mut self, _: Option<&str>, _: Option<u64>, _: Error) -> Result<()> {
        self.slow += 1;
        Ok(())
    }
    fn note_unknown_fields(&mut self, _: u64) {}
    fn push_columns(&mut self, c: &Columns) -> Result<()> {
        self.rows += c.len() as u64;
        self.batches += 1;
        Ok(())
    }
}

/// `cargo test --release -p broker-rules csv_parse_throughput -- --ignored --nocapture`
/// with BROKER_RULES_BENCH_CSV=/tmp/s1m.csv (`broker-rules sample --count 1000000`).
#[test]
#[ignore]
fn csv_parse_throughput() {
    let path = std::env::var("BROKER_RULES_BENCH_CSV").unwrap_or_else(|_| "/tmp/s1m.csv".into());
    let bytes = std::fs::read(&path).unwrap();
    for _ in 0..3 {
        let t = std::time::Instant::now();
        let mut c = Count::default();
        let mut src = super::csv::Source::new(&bytes[..]);
        let h = super::csv::read_header_for_tests(&mut src);
        super::csv::run_sequential(&mut c, &h, src, 4 << 20, &mut |_, _| {}).unwrap();
        let dt = t.elapsed().as_secs_f64();
        std::println!(
            "parse only: {} rows in batches ({} batches), {} row path, {:.3} s, {:.0} MB/s, {:.2} M rows/s",
            c.rows,
            c.batches,
            c.slow,
            dt,
            bytes.len() as f64 / dt / 1e6,
            (c.rows + c.slow) as f64 / dt / 1e6
        );
    }
}

/// `cargo test --release -p broker-rules csv_settle_throughput -- --ignored --nocapture`:
/// settling the 1M-row sample with the previous reader and the new one on 1 and 2 threads.
#[test]
#[ignore]
fn csv_settle_throughput() {
    let path = std::env::var("BROKER_RULES_BENCH_CSV").unwrap_or_else(|_| "/tmp/s1m.csv".into());
    let bytes = std::fs::read(&path).unwrap();
    let o = options(false, false);
    let time = |what: &str, f: &dyn Fn() -> String| {
        let t = std::time::Instant::now();
        let out = f();
        std::println!("{what}: {:.3} s", t.elapsed().as_secs_f64());
        out
    };
    let a = time("previous reader", &|| old("okx", &o, &bytes));
    let b = time("new reader, 1 thread", &|| {
        new("okx", &o, &bytes, 1, 4 << 20)
    });
    let c = time("new reader, 2 threads", &|| {
        new("okx", &o, &bytes, 2, 4 << 20)
    });
    assert_eq!(a, b);
    assert_eq!(a, c);
}

/// `order` and `instrument` are known columns (strict mode takes them), carried to lines on
/// the fast and the row path alike, and absent cells leave the line without them.
#[test]
fn csv_order_and_instrument_reach_the_lines() {
    let text = b"id,time,account,broker,channel,product,notional,fee,order,instrument\n\
a,2026-06-05T00:00:00Z,c1,B1,api,spot,100000,100,o-1,BTC-USDC\n\
b,2026-06-06T00:00:00Z,c1,B1,api,spot,50000,50,,\n\
c,2026-06-07T00:00:00Z,c1,B1,api,spot,1e3,1,o-3,ETH-USDC\n";
    let good =
        &text[..text.len() - b"c,2026-06-07T00:00:00Z,c1,B1,api,spot,1e3,1,o-3,ETH-USDC\n".len()];
    let st = new("backpack", &options(true, true), good, 1, 64);
    assert!(
        st.contains(r#""order":"o-1","instrument":"BTC-USDC""#),
        "{st}"
    );
    for threads in [1, 2] {
        let st = new("backpack", &options(false, true), text, threads, 64);
        assert!(
            st.contains(r#"{"id":"a","order":"o-1","instrument":"BTC-USDC","broker":"B1""#),
            "{st}"
        );
        assert!(st.contains(r#"{"id":"b","broker":"B1""#), "{st}");
        // The third row is rejected (1e3 is not a plain decimal): it has no line.
        assert!(!st.contains(r#""o-3""#), "{st}");
        assert!(
            st.contains(r#""rejected":[{"id":"c","line":4,"code":"E_DECIMAL""#),
            "{st}"
        );
    }
}

/// One id twice with different content, far apart, on two threads: the workers may meet
/// the later trade first; an input that can be read again is then settled again in input
/// order, so the error is always the one-thread error, on the later trade's line.
#[test]
fn csv_conflicting_ids_on_threads_give_the_one_thread_error() {
    let mut text = String::from("id,time,account,broker,channel,product,notional,fee\n");
    for i in 0..2_000 {
        let id = match i {
            1_990 => 5,
            1_995 => 7,
            _ => i,
        };
        // Row 1,995 repeats row 7 exactly (an identical duplicate); row 1,990 gives id 5
        // other content.
        let fee = if i == 1_990 { 99 } else { id % 13 };
        text.push_str(&format!(
            "t{id},2026-06-{:02}T10:00:00Z,c{},BKR,api,spot,{}000,{fee}\n",
            1 + id % 28,
            id % 40,
            1 + id % 7
        ));
    }
    let text = text.into_bytes();
    for strict in [false, true] {
        let o = options(strict, false);
        let want = old("backpack", &o, &text);
        // A different trade under a seen id fails the input in both modes, on its line.
        assert!(
            want.starts_with(r#"error {"code":"E_DUPLICATE_ID","message":"trade id \"t5\" appears twice with different content","location":{"field":"id","line":1992,"#),
            "{want}"
        );
        for block in [4096, 61] {
            for _ in 0..25 {
                assert_eq!(
                    reopen("backpack", &o, &text, 2, block),
                    want,
                    "strict={strict}"
                );
            }
        }
    }
    // Without the conflicting row, the identical duplicate is dropped on any thread count.
    let clean: Vec<u8> = String::from_utf8(text)
        .unwrap()
        .lines()
        .enumerate()
        .filter(|(i, _)| *i != 1_991)
        .map(|(_, l)| format!("{l}\n"))
        .collect::<String>()
        .into_bytes();
    let want = old("backpack", &options(false, false), &clean);
    assert!(want.contains(r#""duplicates":1"#), "{want}");
    assert_eq!(
        reopen("backpack", &options(false, false), &clean, 2, 4096),
        want
    );
}
