// Types the JSON Schemas in /schemas do not (yet) describe: the request envelopes of the
// JSON API (rules/src/api.rs) and the `programs()` entry. Everything else in index.d.ts is
// generated from /schemas by gen.mjs (schema-to-ts.mjs). Edit here only.

/** A decimal as a string of digits, e.g. "1234.5678". JS numbers are rejected (E_DECIMAL). */
export type Decimal = DecimalString;
/** Where an error is (field, line, column, id, position; each optional). */
export type ErrorLocation = Location;

/** A built-in program id ("backpack", "xt", "okx") or a program object. */
export type ProgramArg = 'backpack' | 'xt' | 'okx' | (string & {}) | ProgramSpec;

/** Request of `settle` and `explain`. */
export interface SettleRequest {
  program: ProgramArg;
  trades?: Trade[];
  registry?: Registry;
  options?: SettleOptions;
}

/**
 * A trade log as bytes, read by the engine's own readers (no JSON per trade): a Uint8Array
 * (a Node Buffer is one), another ArrayBuffer view, or an ArrayBuffer.
 */
export type TradeBytes = Uint8Array | ArrayBufferView | ArrayBuffer | SharedArrayBuffer;

/** Input column -> trade field, e.g. `{ trade_id: 'id', ts: 'time' }` (or `"from=to"` specs). */
export type ColumnRenames = { [column: string]: keyof Trade } | string | string[];

/** How a trade log is read. */
export interface TradeLogInput {
  /** The log's format; absent: sniffed from its first bytes (Parquet and Arrow magic, `[` JSON, `{` NDJSON, else CSV). */
  format?: TradeFormat;
  /** Renames of input columns (CSV header, Arrow/Parquet fields) to trade fields. */
  columns?: ColumnRenames;
}

/**
 * Request of `settle` and `explain` with the trades as a trade log: bytes, or its text when
 * `format` is given. CSV (and Parquet) are read on every core in the Node addon.
 */
export type SettleLogRequest = {
  program: ProgramArg;
  registry?: Registry;
  options?: SettleOptions;
  columns?: ColumnRenames;
} & ({ trades: TradeBytes; format?: TradeFormat } | { trades: string; format: TradeFormat });

/** Request of `estimate`. */
export interface EstimateRequest {
  program: ProgramArg;
  scenario: Scenario;
}

/**
 * Settled trades for `estimate` from actuals: settle's trades (objects, or a trade log as
 * bytes, or its text with `format`) and settle's `registry` and `options`.
 */
export interface Actuals {
  trades: Trade[] | string | TradeBytes;
  format?: TradeFormat;
  /** Renames of the trade log's columns to trade fields. */
  columns?: ColumnRenames;
  registry?: Registry;
  options?: SettleOptions;
}

/**
 * "Last month's actuals, what if volume grows 20%?": `actuals` settled as given and with
 * every notional and fee times `1 + growth`; active clients do not grow.
 */
export interface WhatIfArgs {
  /** Settled trades: an array, a trade log's bytes, or an {@link Actuals} object. */
  actuals: Trade[] | TradeBytes | Actuals;
  /** `"0.2"` or `"20%"` for +20%; greater than -1 (-100%). A decimal string, never a number. */
  growth: Decimal | string;
  /** Only this broker. */
  broker?: string;
}

/** Request of `estimate` from actuals. */
export interface EstimateActualsRequest {
  program: ProgramArg;
  actuals: Actuals;
  growth: Decimal | string;
  broker?: string;
}

/** Request of `validate`: a program, a trade list (checked under a program, backpack if none), or a registry. */
export type ValidateRequest =
  | { program: ProgramArg }
  | { trades: Trade[]; program?: ProgramArg; registry?: Registry; options?: SettleOptions }
  | { registry: Registry };

/** Request of `reconcile` (rules/src/api.rs): settle's fields, the report and how to read it. */
export interface ReconcileRequest {
  program: ProgramArg;
  /** Trade objects, a trade log's text (with `format`), or its bytes (format sniffed unless given). */
  trades?: Trade[] | string | TradeBytes;
  format?: TradeFormat;
  /** Renames of the trade log's columns to trade fields. */
  columns?: ColumnRenames;
  registry?: Registry;
  options?: SettleOptions;
  /** The exchange's report: CSV text or its bytes. */
  report: string | TradeBytes;
  /** A built-in format name or a format object (default `generic`). */
  report_format?: 'okx-rebate-per-orders' | 'bitget-customer-commissions' | 'generic' | (string & {}) | ReportFormat;
  /** Report column -> field, over the format's own. */
  map?: { [column: string]: Field };
  by: Level;
  /** Absolute, inclusive, in the currency (default: one unit of the program's scale). */
  tolerance?: Decimal;
  /** List matched keys too. */
  all?: boolean;
  /** The broker the report is for. */
  broker?: string;
}

/** One entry of `programs()`. */
export interface ProgramInfo {
  id: string;
  name: string;
  version: string;
  sha256: string;
  currency: string;
  notes: string[];
}
