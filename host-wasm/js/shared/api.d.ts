// The functions of both packages (same names, same behaviour). Edit here only; gen.mjs
// appends this to the types generated from /schemas (and shared/extra.d.ts) in each package's index.d.ts.

/**
 * The one error model of both packages: every engine error is thrown as a
 * BrokerRulesError carrying the core's stable `code` and `location`.
 */
export declare class BrokerRulesError extends Error {
  readonly name: 'BrokerRulesError';
  /** Stable code, e.g. "E_DECIMAL". */
  readonly code: ErrorCode;
  /** The core's message, without code and location. */
  readonly detail: string;
  readonly location: ErrorLocation;
  /** One sentence on what to do about it. */
  readonly help: string;
  toJSON(): CoreError;
}

/** The built-in programs. */
export declare function programs(): ProgramInfo[];
/** A built-in program by id (or a `{"id"}` request). */
export declare function program(id: string | { id: string }): ProgramSpec;

/**
 * Settles trades: a request object or its JSON text. `trades` may be a trade log as bytes
 * (`{program, trades: bytes, format?, columns?}`; see SettleLogRequest).
 */
export declare function settle(request: SettleRequest | SettleLogRequest | string): Statement;
/**
 * Settles trades; string `trades`/`options`/`registry` are taken as JSON text. Bytes `trades`
 * are a trade log in a sniffed format (use the request form for `format` and `columns`).
 */
export declare function settle(program: ProgramArg, trades: Trade[] | string | TradeBytes, options?: SettleOptions | string, registry?: Registry | string): Statement;
/** Per-trade lines (settle with lines). */
export declare function explain(request: SettleRequest | SettleLogRequest | string): Explanation;
export declare function explain(program: ProgramArg, trades: Trade[] | string | TradeBytes, options?: SettleOptions | string, registry?: Registry | string): Explanation;
/** The dashboard question: tier, rate, commission, next tier, curve. */
export declare function estimate(request: EstimateRequest | string): Estimate;
export declare function estimate(program: ProgramArg, scenario: Scenario | string): Estimate;
/** From settled actuals: each broker's periods settled as given and with the volume grown. */
export declare function estimate(request: EstimateActualsRequest): WhatIf;
export declare function estimate(program: ProgramArg, whatIf: WhatIfArgs): WhatIf;
/** Every problem of a program, a trade list or a registry (never throws for problems). */
export declare function validate(request: ValidateRequest | string): Validation;

/**
 * Checks a payout: the engine's commission beside the exchange's own report, key by key
 * (`by`), with a status and the cause of every difference. `trades` and `report` may be bytes;
 * a Parquet report (bytes starting `PAR1`) is read by the Node addon, while broker-rules-wasm
 * reads CSV reports only (`E_PARSE` says so).
 */
export declare function reconcile(request: ReconcileRequest | string): Reconciliation;
export declare function reconcileJson(request: ReconcileRequest | string): string;
export declare function reconcileAsync(request: ReconcileRequest | string): Promise<Reconciliation>;
export declare function reconcileJsonAsync(request: ReconcileRequest | string): Promise<string>;

/** Canonical JSON text of the result, byte-identical on every host; throws BrokerRulesError. */
export declare function settleJson(request: SettleRequest | SettleLogRequest | string): string;
export declare function settleJson(program: ProgramArg, trades: Trade[] | string | TradeBytes, options?: SettleOptions | string, registry?: Registry | string): string;
export declare function explainJson(request: SettleRequest | SettleLogRequest | string): string;
export declare function explainJson(program: ProgramArg, trades: Trade[] | string | TradeBytes, options?: SettleOptions | string, registry?: Registry | string): string;
export declare function estimateJson(request: EstimateRequest | EstimateActualsRequest | string): string;
export declare function estimateJson(program: ProgramArg, scenario: Scenario | WhatIfArgs | string): string;
export declare function validateJson(request: ValidateRequest | string): string;
export declare function programJson(id: string | { id: string }): string;
export declare function programsJson(): string;

/**
 * Promise forms. In `broker-rules` (Node addon) they run on the libuv thread pool, off the
 * main thread; in `broker-rules-wasm` they run on the calling thread (same results).
 */
export declare function settleAsync(request: SettleRequest | SettleLogRequest | string): Promise<Statement>;
export declare function settleAsync(program: ProgramArg, trades: Trade[] | string | TradeBytes, options?: SettleOptions | string, registry?: Registry | string): Promise<Statement>;
export declare function settleJsonAsync(request: SettleRequest | SettleLogRequest | string): Promise<string>;
export declare function settleJsonAsync(program: ProgramArg, trades: Trade[] | string | TradeBytes, options?: SettleOptions | string, registry?: Registry | string): Promise<string>;
export declare function explainAsync(request: SettleRequest | SettleLogRequest | string): Promise<Explanation>;
export declare function explainAsync(program: ProgramArg, trades: Trade[] | string | TradeBytes, options?: SettleOptions | string, registry?: Registry | string): Promise<Explanation>;
export declare function explainJsonAsync(request: SettleRequest | SettleLogRequest | string): Promise<string>;
export declare function estimateAsync(request: EstimateRequest | string): Promise<Estimate>;
export declare function estimateAsync(program: ProgramArg, scenario: Scenario | string): Promise<Estimate>;
export declare function estimateAsync(request: EstimateActualsRequest): Promise<WhatIf>;
export declare function estimateAsync(program: ProgramArg, whatIf: WhatIfArgs): Promise<WhatIf>;
export declare function estimateJsonAsync(request: EstimateRequest | EstimateActualsRequest | string): Promise<string>;
export declare function validateAsync(request: ValidateRequest | string): Promise<Validation>;
export declare function validateJsonAsync(request: ValidateRequest | string): Promise<string>;
export declare function programAsync(id: string | { id: string }): Promise<ProgramSpec>;
export declare function programJsonAsync(id: string | { id: string }): Promise<string>;
export declare function programsAsync(): Promise<ProgramInfo[]>;
export declare function programsJsonAsync(): Promise<string>;

/**
 * The raw envelope `{"ok":...}` / `{"error":...}` of a core function by name, exactly as
 * every host (CLI, Python, wasmtime) returns it. Never throws for engine errors.
 */
export declare function call(fn: 'settle' | 'estimate' | 'explain' | 'validate' | 'program' | 'programs' | 'reconcile' | (string & {}), request: object | string): string;

/** Incremental settlement for streams: the same statement as `settle` over all batches. */
export declare class Settlement {
  constructor(program: ProgramArg, options?: SettleOptions | string | null, registry?: Registry | string | null);
  /** Feeds a batch (or one trade, or a JSON array text); returns distinct trades accepted so far. */
  push(trades: Trade[] | Trade | string): number;
  /**
   * Feeds a whole trade log (bytes, or its text with `input.format`); lines in `rejected` and
   * errors are the log's own. Returns distinct trades accepted so far. `onProgress` is called
   * with the bytes and records read so far after every block (broker-rules-wasm; the Node
   * addon reads on all cores and does not call it).
   */
  push(log: TradeBytes, input?: TradeLogInput | null, onProgress?: (bytesRead: number, recordsRead: number) => void): number;
  push(log: string, input: TradeLogInput & { format: TradeFormat }, onProgress?: (bytesRead: number, recordsRead: number) => void): number;
  /** The statement of the trades pushed so far; the settlement goes on (live running totals). */
  snapshot(): Statement;
  /** `snapshot()` as its canonical JSON text. */
  snapshotJson(): string;
// #if node
  /**
   * The partial state so far: canonical, versioned bytes carrying the program hash, options,
   * registry fingerprint and seen trade ids (`Settler::to_bytes`). Shards settled separately
   * (split trades by id: an id must not be in two states) are combined with `merge`.
   */
  toBytes(): Uint8Array;
  /**
   * Adds a partial state from `toBytes` of a settlement of the same program, options and
   * registry (another, or corrupt bytes: E_PARTIAL, and this settlement goes on). An id in
   * both states is E_DUPLICATE_ID. Returns distinct trades accepted so far.
   */
  merge(state: Uint8Array | ArrayBufferView | ArrayBuffer): number;
// #endif
  /** The statement; the settlement is spent afterwards. */
  finish(): Statement;
  /** The statement's canonical JSON text. */
  finishJson(): string;
}

/** One sentence of help for an error code. */
export declare function errorHelp(code: ErrorCode | string): string;
/** The engine version statements carry. */
export declare function engineVersion(): string;

/**
 * A program parsed, checked and hashed once, for many calls: `settle`, `explain` and
 * `estimate` take the arguments of the plain functions without the program, and give the same
 * results (`compile("backpack").estimate(s)` equals `estimate("backpack", s)`).
 */
export declare class Compiled {
  constructor(program: ProgramArg);
  settle(trades: Trade[] | string | TradeBytes, options?: SettleOptions | string | null, registry?: Registry | string | null): Statement;
  settle(request: Omit<SettleRequest, 'program'> | Omit<SettleLogRequest, 'program'>): Statement;
  settleJson(trades: Trade[] | string | TradeBytes, options?: SettleOptions | string | null, registry?: Registry | string | null): string;
  settleJson(request: Omit<SettleRequest, 'program'> | Omit<SettleLogRequest, 'program'>): string;
  explain(trades: Trade[] | string | TradeBytes, options?: SettleOptions | string | null, registry?: Registry | string | null): Explanation;
  explain(request: Omit<SettleRequest, 'program'> | Omit<SettleLogRequest, 'program'>): Explanation;
  explainJson(trades: Trade[] | string | TradeBytes, options?: SettleOptions | string | null, registry?: Registry | string | null): string;
  explainJson(request: Omit<SettleRequest, 'program'> | Omit<SettleLogRequest, 'program'>): string;
  estimate(scenario: Scenario | string): Estimate;
  /** From settled actuals (see the plain `estimate`). */
  estimate(whatIf: WhatIfArgs): WhatIf;
  estimateJson(scenario: Scenario | WhatIfArgs | string): string;
}
/** `new Compiled(program)`: parse, check and hash the program once. */
export declare function compile(program: ProgramArg): Compiled;
