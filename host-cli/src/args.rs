//! The command line's arguments (clap): one struct per command.

use crate::sample;
use clap::{Args, Parser, Subcommand, ValueEnum};

/// Crypto exchange broker commissions, computed exactly.
#[derive(Parser, Debug)]
#[command(name = "broker-rules", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Settle a trade log: per broker and period, the tier, volume, fees and commission.
    Settle(SettleArgs),
    /// Estimate a scenario: tier, rate, commission, the next tier and the commission curve;
    /// or, with --actuals and --growth, settled actuals beside the same trades grown by a
    /// percentage ("last month's actuals, what if volume grows 20%?").
    Estimate(EstimateArgs),
    /// Per-trade lines: attribution, period, tier, rate, exact commission or exclusion.
    Explain(SettleArgs),
    /// List the built-in programs, or print one (`programs show <id>`).
    Programs(ProgramsArgs),
    /// Check a program, a trade file or a broker registry; print every problem.
    Validate(ValidateArgs),
    /// Print the JSON Schema of an input or output type.
    Schema(SchemaArgs),
    /// Write a deterministic synthetic trade log (CSV or NDJSON, by extension).
    Sample(SampleArgs),
    /// Check a payout: the engine's commission beside the exchange's report, key by key,
    /// with the cause of every difference. Exit 0 all matched, 3 differences, 1 errors.
    Reconcile(crate::reconcile::ReconcileArgs),
    /// The raw JSON API: send one request to an entry point (settle, estimate, explain,
    /// validate, program, programs, reconcile) and print the engine's envelope, `{"ok":...}` or
    /// `{"error":...}`, exactly as every other host returns it.
    Call(CallArgs),
}

#[derive(Args, Debug)]
pub struct CallArgs {
    /// The entry point: settle, estimate, explain, validate, program, programs or reconcile.
    pub name: String,
    /// The request JSON (the request shapes of the core's api module); `-` reads stdin.
    /// Without it the request is empty (`{}`).
    #[arg(long, short = 'r', value_name = "FILE")]
    pub request: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutFormat {
    Table,
    Json,
    Csv,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum InFormat {
    Csv,
    Ndjson,
    Json,
    Parquet,
    Arrow,
}

impl From<InFormat> for broker_rules::read::Format {
    fn from(f: InFormat) -> Self {
        use broker_rules::read::Format;
        match f {
            InFormat::Csv => Format::Csv,
            InFormat::Ndjson => Format::Ndjson,
            InFormat::Json => Format::Json,
            InFormat::Parquet => Format::Parquet,
            InFormat::Arrow => Format::Arrow,
        }
    }
}

#[derive(Args, Debug)]
pub struct SettleArgs {
    /// A built-in program id (`broker-rules programs`) or a program JSON file.
    #[arg(long, short = 'p')]
    pub program: String,
    /// Trade log (CSV with a header row, NDJSON, or a JSON array); `-` reads stdin.
    /// Without it, the bundled sample log is used.
    #[arg(long, short = 't')]
    pub trades: Option<String>,
    /// Broker registry JSON (enrolled brokers, sub-accounts, parents, affiliates).
    #[arg(long, short = 'b')]
    pub brokers: Option<String>,
    /// Settle trades at or after this time (RFC 3339 or YYYY-MM-DD); earlier trades still
    /// feed the tier windows.
    #[arg(long)]
    pub from: Option<String>,
    /// Settle trades before this time (RFC 3339 or YYYY-MM-DD).
    #[arg(long)]
    pub to: Option<String>,
    /// Include one line per trade (settle only; explain always does).
    #[arg(long)]
    pub lines: bool,
    /// Fail on the first bad trade instead of listing it under "rejected".
    #[arg(long)]
    pub strict: bool,
    /// Explain one broker's statement in words: per period the tier basis and its window,
    /// the next threshold, attributed = eligible + excluded, the exact commission and its
    /// rounding (text, whatever --format says).
    #[arg(long, value_name = "BROKER")]
    pub explain: Option<String>,
    /// The trades are the brokers' whole history (new brokers): do not flag periods whose
    /// tier window reaches before the earliest trade as `history: "incomplete"`.
    #[arg(long)]
    pub complete_history: bool,
    /// Output format [default: table on a terminal, json otherwise].
    #[arg(long, short = 'f', value_enum)]
    pub format: Option<OutFormat>,
    /// Input format [default: by extension (.csv, .ndjson/.jsonl, .json, .parquet,
    /// .arrow/.ipc/.feather), else sniffed from the first bytes].
    #[arg(long, value_enum)]
    pub input_format: Option<InFormat>,
    /// Rename an input column to a trade field, e.g. `--column trade_id=id --column ts=time`
    /// (CSV headers, Parquet and Arrow field names). Repeat for each column.
    #[arg(long = "column", value_name = "FROM=TO")]
    pub columns: Vec<String>,
    /// Worker threads for CSV and Parquet input [default: all cores].
    #[arg(long)]
    pub threads: Option<usize>,
    /// Merge a partial state written by `--state-out` (same program, registry and options);
    /// repeat for each. With states and no `--trades`, only the states are settled.
    #[arg(long = "state", value_name = "FILE")]
    pub states: Vec<String>,
    /// Write the partial state (canonical bytes) to FILE instead of the statement, to merge
    /// later with `--state`. Split trades by id across the parts you settle separately.
    #[arg(long, value_name = "FILE")]
    pub state_out: Option<String>,
}

#[derive(Args, Debug)]
pub struct EstimateArgs {
    /// A built-in program id or a program JSON file.
    #[arg(long, short = 'p')]
    pub program: String,
    /// Expected attributed volume over the tier window (a month for monthly programs).
    #[arg(long, required_unless_present = "actuals")]
    pub volume: Option<String>,
    /// Average fee rate (e.g. 0.0002).
    #[arg(
        long,
        conflicts_with = "fees",
        required_unless_present_any = ["fees", "actuals"]
    )]
    pub fee_rate: Option<String>,
    /// Expected total fees at that volume.
    #[arg(long)]
    pub fees: Option<String>,
    /// Share of the volume from affiliate-referred clients, in [0, 1].
    #[arg(long, requires = "affiliate_rate")]
    pub affiliate_share: Option<String>,
    /// The affiliate rate of those clients, in [0, 1].
    #[arg(long)]
    pub affiliate_rate: Option<String>,
    /// Product mix: `spot`, or repeated `spot=0.6 --product futures=0.4` (shares sum to 1).
    #[arg(long = "product")]
    pub products: Vec<String>,
    /// Channel of the flow.
    #[arg(long, default_value = "api")]
    pub channel: String,
    /// Distinct active client accounts over the window.
    #[arg(long, default_value_t = 0)]
    pub active_clients: u64,
    /// The clients' VIP level.
    #[arg(long, default_value_t = 0)]
    pub vip: u32,
    /// Instead of a scenario: a trade log of actuals (as `settle --trades` reads it; `-`
    /// reads stdin), settled as given and with every notional and fee grown by --growth.
    #[arg(
        long,
        value_name = "FILE",
        requires = "growth",
        conflicts_with_all = ["volume", "fee_rate", "fees", "affiliate_share", "affiliate_rate", "products", "active_clients", "vip"]
    )]
    pub actuals: Option<String>,
    /// Volume growth for --actuals: `20%` or `0.2` (+20%), `-10%`; greater than -100%.
    #[arg(long, requires = "actuals", allow_hyphen_values = true)]
    pub growth: Option<String>,
    /// With --actuals: only this broker.
    #[arg(long, requires = "actuals")]
    pub broker: Option<String>,
    /// With --actuals: broker registry JSON, as `settle --brokers`.
    #[arg(long, requires = "actuals", value_name = "FILE")]
    pub registry: Option<String>,
    /// With --actuals: settle trades at or after this time (earlier ones feed the windows).
    #[arg(long, requires = "actuals")]
    pub from: Option<String>,
    /// With --actuals: settle trades before this time.
    #[arg(long, requires = "actuals")]
    pub to: Option<String>,
    /// With --actuals: the trades are the brokers' whole history (see `settle`).
    #[arg(long, requires = "actuals")]
    pub complete_history: bool,
    /// With --actuals: fail on the first bad trade.
    #[arg(long, requires = "actuals")]
    pub strict: bool,
    /// With --actuals: input format [default: by extension, else sniffed].
    #[arg(long, value_enum, requires = "actuals")]
    pub input_format: Option<InFormat>,
    /// With --actuals: rename an input column to a trade field (FROM=TO), as `settle`.
    #[arg(long = "column", value_name = "FROM=TO", requires = "actuals")]
    pub columns: Vec<String>,
    /// With --actuals: worker threads for CSV and Parquet input [default: all cores].
    #[arg(long, requires = "actuals")]
    pub threads: Option<usize>,
    /// Output format [default: table on a terminal, json otherwise].
    #[arg(long, short = 'f', value_enum)]
    pub format: Option<OutFormat>,
}

#[derive(Args, Debug)]
pub struct ProgramsArgs {
    #[command(subcommand)]
    pub show: Option<ProgramsCommand>,
    /// Output format [default: table on a terminal, json otherwise].
    #[arg(long, short = 'f', value_enum)]
    pub format: Option<OutFormat>,
}

#[derive(Subcommand, Debug)]
pub enum ProgramsCommand {
    /// Print a built-in program's JSON file.
    Show {
        /// Program id.
        id: String,
    },
}

#[derive(Args, Debug)]
#[command(group = clap::ArgGroup::new("what").required(true).multiple(true).args(["program", "trades", "brokers"]))]
pub struct ValidateArgs {
    /// A program JSON file (or built-in id). With --trades: the program to check them under
    /// [default: backpack].
    #[arg(long, short = 'p')]
    pub program: Option<String>,
    /// A trade log; every rejected trade is listed.
    #[arg(long, short = 't')]
    pub trades: Option<String>,
    /// A broker registry JSON file.
    #[arg(long, short = 'b')]
    pub brokers: Option<String>,
    /// Also report unknown fields, channels and products.
    #[arg(long)]
    pub strict: bool,
    /// Rename a column of --trades to a trade field, as `settle --column` does.
    #[arg(long = "column", value_name = "FROM=TO")]
    pub columns: Vec<String>,
    /// Input format of --trades.
    #[arg(long, value_enum)]
    pub input_format: Option<InFormat>,
    /// Output format (table or json) [default: table on a terminal, json otherwise].
    #[arg(long, short = 'f', value_enum)]
    pub format: Option<OutFormat>,
}

#[derive(Args, Debug)]
pub struct SchemaArgs {
    /// Schema name (omit with --list or --write).
    pub name: Option<String>,
    /// List the schema names.
    #[arg(long)]
    pub list: bool,
    /// Write every schema as <dir>/<name>.schema.json.
    #[arg(long, value_name = "DIR")]
    pub write: Option<String>,
}

#[derive(Args, Debug)]
pub struct SampleArgs {
    /// Number of trades.
    #[arg(long, short = 'n', default_value_t = sample::DEFAULT_COUNT)]
    pub count: u64,
    /// PRNG seed (the same seed and count always give the same file).
    #[arg(long, short = 's', default_value_t = sample::DEFAULT_SEED)]
    pub seed: u64,
    /// Output file (`.csv`, `.ndjson`, `.jsonl` or `.parquet`); stdout when omitted.
    #[arg(long, short = 'o')]
    pub out: Option<String>,
    /// Output format [default: by extension of --out, else csv].
    #[arg(long, value_parser = ["csv", "ndjson", "parquet"])]
    pub format: Option<String>,
    /// Instead: a month of OKX broker trades (CSV, to --out) and the exchange's report of the
    /// same month (to --report-out) with planted differences, to try `reconcile` on.
    #[arg(long, value_parser = ["okx"], requires_all = ["out", "report_out"])]
    pub report: Option<String>,
    /// Where `--report` writes the exchange's report (CSV).
    #[arg(long, value_name = "FILE", requires = "report")]
    pub report_out: Option<String>,
}
