// The JavaScript API of broker-rules, shared by both npm packages: `broker-rules-wasm`
// (core = the wasm-bindgen module) and `broker-rules` (core = the napi-rs addon).
// host-wasm/js/gen.mjs pastes this file into each package's entry points; edit it here only.
//
// The core exposes JSON-text functions returning the engine's envelope
// (`{"ok":...}` / `{"error":{...}}`). This wrapper only converts: objects to JSON text,
// envelopes to values or a thrown BrokerRulesError. It computes nothing itself.
function createApi(core, pkg) {
  const OK = '{"ok":';
  const helpCache = new Map();

  function helpFor(code) {
    if (!helpCache.has(code)) {
      let h = '';
      try { h = core.errorHelp(code); } catch (_) { /* not initialized */ }
      helpCache.set(code, h);
    }
    return helpCache.get(code);
  }

  function where(loc) {
    if (!loc) return '';
    let s = '';
    if (loc.id != null) s += ` (trade ${loc.id})`;
    if (loc.field != null) s += ` [field ${loc.field}]`;
    if (loc.line != null) s += ` at line ${loc.line}` + (loc.column != null ? `, column ${loc.column}` : '');
    if (loc.position != null) s += ` at position ${loc.position}`;
    return s;
  }

  /** The one error type of the package: the core's error, unchanged, as an Error. */
  class BrokerRulesError extends Error {
    constructor(error) {
      const e = error || {};
      const code = e.code || 'E_INTERNAL';
      super(`${code}: ${e.message}${where(e.location)}`);
      this.name = 'BrokerRulesError';
      /** Stable error code, e.g. "E_DECIMAL". */
      this.code = code;
      /** The core's message, without code and location. */
      this.detail = String(e.message);
      /** Where: field, line, column, id, position (each optional). */
      this.location = e.location || {};
      /** One sentence on what to do about it. */
      this.help = helpFor(code);
    }
    /** The core's error object: {code, message, location?}. */
    toJSON() {
      const o = { code: this.code, message: this.detail };
      if (Object.keys(this.location).length) o.location = this.location;
      return o;
    }
  }

  function fail(code, message, location) {
    return new BrokerRulesError(location ? { code, message, location } : { code, message });
  }

  // A JS number that is not finite (NaN, Infinity, 1e400) has no JSON form: JSON.stringify
  // would write null and the engine would read "absent". It is E_DECIMAL naming the field
  // (a trade's field with its line and id, like the engine's own decimal errors; elsewhere
  // the path, e.g. scenario.volume). Finite numbers go through: the engine refuses a JSON
  // number where a decimal belongs with the same code.
  function checkNumbers(value, what) {
    const open = new Set(); // the objects on the current path: a cycle is JSON.stringify's error
    const walk = (v, path, loc) => {
      if (typeof v === 'number') {
        if (!Number.isFinite(v)) {
          throw fail('E_DECIMAL', `${loc.field || path} is the JS number ${v}, which has no exact decimal form; pass decimals as strings such as "1234.56"`, loc.field ? loc : { field: path });
        }
        return;
      }
      if (v === null || typeof v !== 'object' || bytesOf(v)) return;
      if (typeof v.toJSON === 'function' || open.has(v)) return;
      open.add(v);
      try { walkInto(v, path, loc); } finally { open.delete(v); }
    };
    const walkInto = (v, path, loc) => {
      if (Array.isArray(v)) {
        v.forEach((x, i) => {
          const trade = what === 'trades' && path === 'trades' && x !== null && typeof x === 'object' && !Array.isArray(x);
          walk(x, `${path}[${i}]`, trade ? { line: i + 1, ...(typeof x.id === 'string' ? { id: x.id } : {}), trade: true } : loc);
        });
        return;
      }
      for (const [k, x] of Object.entries(v)) {
        walk(x, `${path}.${k}`, loc.trade ? { field: k, line: loc.line, ...(loc.id != null ? { id: loc.id } : {}) } : {});
      }
    };
    walk(value, what, {});
  }

  // JSON text of a value, checked for numbers with no JSON form. JSON.stringify writes such a
  // number as `null`, so the walk that names it runs only when the text has a `null` in it, or
  // when stringify fails (the walk's error first, as if it had run before): a dashboard's
  // scenario on every keystroke pays for one stringify, not for a walk of the object too.
  function text(value, what) {
    let s;
    let failed = null;
    try {
      s = JSON.stringify(value);
    } catch (e) {
      failed = e;
    }
    if (failed || s === undefined || s.includes('null')) {
      try {
        if (what === 'request' && value !== null && typeof value === 'object' && !Array.isArray(value)) {
          for (const [k, v] of Object.entries(value)) checkNumbers(v, k);
        } else checkNumbers(value, what);
      } catch (e) {
        if (e instanceof BrokerRulesError) throw e;
        throw fail('E_PARSE', `${what} cannot be serialized as JSON: ${e && e.message}`, { field: what });
      }
    }
    if (failed) throw fail('E_PARSE', `${what} cannot be serialized as JSON: ${failed && failed.message}`, { field: what });
    if (s === undefined) throw fail('E_FIELD', `${what} is not a JSON value`, { field: what });
    return s;
  }

  // The end of the one JSON value starting at `i` (after whitespace) in `s`: strings and
  // nesting are tracked, so a comma or brace inside a string does not count. -1 if the
  // value never closes.
  function valueEnd(s, i) {
    let depth = 0;
    let inStr = false;
    for (; i < s.length; i++) {
      const c = s[i];
      if (inStr) {
        if (c === '\\') i++;
        else if (c === '"') { inStr = false; if (depth === 0) return i + 1; }
      } else if (c === '"') inStr = true;
      else if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') { depth--; if (depth <= 0) return depth === 0 ? i + 1 : -1; }
      else if (depth === 0 && /[\s,:]/.test(c)) return i;
    }
    return depth === 0 && !inStr ? i : -1;
  }

  // An argument given as JSON text: it must be exactly one JSON value of the expected kind
  // (`[` an array, `{` an object), nothing before or after it, so the text of one argument
  // can never add keys to the request (`[...], "program": "xt"` is refused, not spliced).
  // Its contents are the engine's to read (duplicate keys, decimals: the engine's errors).
  function jsonArg(s, what, open) {
    const start = s.search(/\S/);
    const kind = open === '[' ? 'an array' : 'an object';
    if (start < 0 || s[start] !== open) throw fail('E_FIELD', `${what} given as text must be ${kind} in JSON`, { field: what });
    const end = valueEnd(s, start);
    if (end < 0) throw fail('E_PARSE', `${what}: the JSON text is not closed`, { field: what });
    const rest = s.slice(end);
    if (/\S/.test(rest)) {
      throw fail('E_PARSE', `${what}: unexpected text after the JSON value: ${JSON.stringify(rest.trim().slice(0, 40))} (each argument is one JSON value)`, { field: what, column: end + 1 });
    }
    return s;
  }

  // A whole request: an object, or JSON text passed through byte for byte (the engine reads
  // it as one document and refuses duplicate keys).
  function requestText(request) {
    if (typeof request === 'string') return request;
    if (request === undefined || request === null) return '{}';
    return text(request, 'request');
  }

  // A program argument: a built-in id, a program object, or program JSON text.
  function programText(program) {
    if (typeof program === 'string') return program.trim().startsWith('{') ? jsonArg(program, 'program', '{') : JSON.stringify(program);
    return text(program, 'program');
  }

  const OPENS = { trades: '[', options: '{', registry: '{', scenario: '{' };

  // One argument as JSON text: a value is serialized (and checked); a string is JSON text of
  // one value of the argument's kind.
  function argText(k, v) {
    if (k === 'program') return programText(v);
    if (typeof v === 'string') return jsonArg(v, k, OPENS[k] || '{');
    return text(v, k);
  }

  // A request built from positional arguments, key by key: each argument is serialized or
  // checked on its own, and the keys are the function's own.
  function compose(parts) {
    const out = [];
    for (const [k, v] of Object.entries(parts)) {
      if (v === undefined || (v === null && k !== 'program')) continue;
      out.push(`${JSON.stringify(k)}:${argText(k, v)}`);
    }
    return `{${out.join(',')}}`;
  }

  // Runs a core call; anything the core throws (a trapped wasm instance, a missing init)
  // becomes an error of the package's model.
  function guard(fn, ...args) {
    try {
      return fn(...args);
    } catch (e) {
      if (e instanceof BrokerRulesError) throw e;
      if (pkg.notReady && pkg.notReady()) throw new Error(`${pkg.name}: call \`await init()\` before using the API`);
      throw fail('E_INTERNAL', `the engine failed: ${e && e.message}`);
    }
  }

  function invoke(fn, ...args) {
    const env = guard(fn, ...args);
    if (typeof env !== 'string') throw fail('E_INTERNAL', 'the engine returned no envelope');
    return env;
  }

  function errorOf(env) {
    let parsed;
    try { parsed = JSON.parse(env); } catch (_) { return fail('E_INTERNAL', `malformed envelope: ${env.slice(0, 200)}`); }
    return new BrokerRulesError(parsed.error);
  }

  // The canonical JSON text of the envelope's `ok`, exactly the core's bytes; throws on error.
  function okText(env) {
    if (env.startsWith(OK)) return env.slice(OK.length, -1);
    throw errorOf(env);
  }

  // Trade bytes: a Uint8Array (a Node Buffer is one), another ArrayBuffer view, or an
  // ArrayBuffer; null for anything else.
  function bytesOf(x) {
    if (x === null || typeof x !== 'object') return null;
    if (x instanceof Uint8Array) return x;
    if (ArrayBuffer.isView(x)) return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
    const tag = Object.prototype.toString.call(x);
    if (tag === '[object ArrayBuffer]' || tag === '[object SharedArrayBuffer]') return new Uint8Array(x);
    return null;
  }
  const utf8 = (s) => new TextEncoder().encode(s);

  // A settle/explain call whose trades are a trade log (bytes, or text with a `format`):
  // {head, bytes}, where head is the request without `trades` as JSON text. null otherwise.
  function bytesCall(args) {
    if (args.length > 1) {
      const bytes = bytesOf(args[1]);
      return bytes && { head: compose({ program: args[0], options: args[2], registry: args[3] }), bytes };
    }
    const r = args[0];
    if (r === null || typeof r !== 'object' || Array.isArray(r) || bytesOf(r)) return null;
    let bytes = bytesOf(r.trades);
    if (!bytes && typeof r.trades === 'string' && r.format != null) bytes = utf8(r.trades);
    if (!bytes) return null;
    const { trades, ...head } = r;
    return { head: text(head, 'request'), bytes };
  }

  const settleReq = (args) => (args.length > 1 ? compose({ program: args[0], trades: args[1], options: args[2], registry: args[3] }) : requestText(args[0]));
  const estimateReq = (args) => (args.length > 1 ? compose({ program: args[0], scenario: args[1] }) : requestText(args[0]));
  // `estimate(program, {actuals, growth, broker?})`: the request from actuals. `actuals` is
  // settle's trades (an array, bytes) or `{trades, format?, columns?, registry?, options?}`.
  const actualsOf = (a) => (Array.isArray(a) || bytesOf(a) || typeof a === 'string' ? { trades: a } : a);
  const estimatePrep = (args) => {
    const s = args[1];
    if (args.length < 2 || s === null || typeof s !== 'object' || Array.isArray(s) || bytesOf(s)) return args;
    if (!('actuals' in s) && !('growth' in s)) return args;
    const { actuals, ...rest } = s;
    return [{ program: args[0], ...(actuals === undefined ? {} : { actuals: actualsOf(actuals) }), ...rest }];
  };
  // An estimate request whose actuals are a trade log (bytes, or text with a `format`):
  // {head, bytes}, head being the request without `actuals.trades`. null otherwise.
  function estimateBytes(args) {
    const r = args[0];
    if (args.length !== 1 || r === null || typeof r !== 'object' || Array.isArray(r) || bytesOf(r)) return null;
    const a = r.actuals;
    if (a === null || typeof a !== 'object' || Array.isArray(a) || bytesOf(a)) return null;
    let bytes = bytesOf(a.trades);
    if (!bytes && typeof a.trades === 'string' && a.format != null) bytes = utf8(a.trades);
    if (!bytes) return null;
    const { trades, ...head } = a;
    return { head: text({ ...r, actuals: head }, 'request'), bytes };
  }
  const programReq = (args) => {
    const x = args[0];
    if (typeof x === 'string' && !x.trim().startsWith('{')) return JSON.stringify({ id: x });
    return requestText(x);
  };

  // Trade logs go to the core's readers as they are (callBytesJson: no JSON per trade).
  const bytesEnvelope = (name, b) => invoke(core.callBytesJson, name, b.head, b.bytes);
  const bytesEnvelopeAsync = (name, b) => (core.callBytesJsonAsync
    ? core.callBytesJsonAsync(name, b.head, b.bytes)
    : Promise.resolve().then(() => bytesEnvelope(name, b)));

  // A reconcile request: an object or its JSON text. `report` may be bytes (the CSV's UTF-8
  // text travels in the request); `trades` as bytes (or text with a `format`) go to the
  // core's trade-log readers as settle's do.
  // A Parquet report (bytes starting `PAR1`) is not text: it travels as bytes beside the
  // request (`reconcileReportBytes`), with the trades as bytes or left in the request.
  const parquetReport = (args) => {
    const r = args[0];
    if (r === null || typeof r !== 'object' || Array.isArray(r) || bytesOf(r)) return null;
    const b = bytesOf(r.report);
    if (!b || b.length < 4 || String.fromCharCode(b[0], b[1], b[2], b[3]) !== 'PAR1') return null;
    const { report, ...rest } = r;
    const t = bytesCall([rest]);
    const head = t ? t.head : text(rest, 'request');
    return () => invoke(core.reconcileReportBytes, head, t ? t.bytes : null, b);
  };
  const reconcilePrep = (args) => {
    const r = args[0];
    if (r === null || typeof r !== 'object' || Array.isArray(r) || bytesOf(r)) return args;
    const b = bytesOf(r.report);
    if (!b) return args;
    let report;
    try {
      report = new TextDecoder('utf-8', { fatal: true }).decode(b);
    } catch (_) {
      throw fail('E_PARSE', 'report: the bytes are not UTF-8', { field: 'report' });
    }
    return [{ ...r, report }, ...args.slice(1)];
  };
  const reconcileReq = (args) => requestText(args[0]);

  const api = {};
  const entries = [
    ['settle', core.settleJson, settleReq, true],
    ['explain', core.explainJson, settleReq, true],
    ['estimate', core.estimateJson, estimateReq, estimateBytes, estimatePrep],
    ['validate', core.validateJson, (args) => requestText(args[0])],
    ['program', core.programJson, programReq],
    ['programs', () => core.programsJson(), () => '{}'],
    ['reconcile', (r) => core.callJson('reconcile', r), reconcileReq, true, reconcilePrep, parquetReport],
  ];
  for (const [name, fn, req, takesBytes, prep = (a) => a, special = () => null] of entries) {
    const bytesOfCall = typeof takesBytes === 'function' ? takesBytes : takesBytes ? bytesCall : () => null;
    const json = (...raw) => {
      const sp = special(raw);
      if (sp) return okText(sp());
      const args = prep(raw);
      const b = bytesOfCall(args);
      return okText(b ? bytesEnvelope(name, b) : invoke(fn, req(args)));
    };
    api[`${name}Json`] = json;
    api[name] = (...args) => JSON.parse(json(...args));
    api[`${name}JsonAsync`] = (...raw) => {
      let request, b;
      try {
        const sp = special(raw);
        if (sp) return Promise.resolve().then(() => okText(sp()));
        const args = prep(raw);
        b = bytesOfCall(args);
        if (!b) request = req(args);
      } catch (e) { return Promise.reject(e); }
      const env = b
        ? bytesEnvelopeAsync(name, b)
        : core.callJsonAsync
          ? core.callJsonAsync(name, request)
          : Promise.resolve().then(() => invoke(core.callJson, name, request));
      return Promise.resolve(env).then(okText);
    };
    api[`${name}Async`] = (...args) => api[`${name}JsonAsync`](...args).then((t) => JSON.parse(t));
  }

  /** The raw envelope string for `function` (never throws for engine errors). */
  api.call = (fn, request) => {
    const b = bytesCall([request]);
    return b ? bytesEnvelope(String(fn), b) : invoke(core.callJson, String(fn), requestText(request));
  };

  const FINISHED = '{"error":{"code":"E_OPTIONS","message":"this settlement is already finished"}}';
  const spent = {
    status: () => '{"ok":null}', push: () => FINISHED, snapshot: () => FINISHED, pushBytes: () => FINISHED, finish: () => FINISHED,
    merge: () => FINISHED, toBytes: () => new Uint8Array(0), lastError: () => FINISHED,
  };
  // Partial states are in the Node addon; the .wasm leaves them out for size.
  const hasStates = () => !!(core.SettlementCore && typeof core.SettlementCore.prototype.toBytes === 'function');

  /** Incremental settlement: `push` batches of trades (or trade logs), then `finish`; partial
   * states out (`toBytes`) and in (`merge`) in the Node addon. */
  class Settlement {
    #core;
    constructor(program, options, registry) {
      const opt = options === undefined || options === null ? '' : argText('options', options);
      const reg = registry === undefined || registry === null ? '' : argText('registry', registry);
      const p = programText(program);
      this.#core = guard(() => new core.SettlementCore(p, opt, reg));
      const st = invoke(() => this.#core.status());
      if (st !== '{"ok":null}') throw errorOf(st);
    }
    /** Feeds an array of trades (or its JSON text; one trade object is taken as a batch of
     * one), or a whole trade log as bytes (`input`: `{format?, columns?}`; text with
     * `input.format` is taken as the log's text; `onProgress(bytesRead, recordsRead)` is
     * called as the log is read, in broker-rules-wasm); returns the number of distinct trades
     * accepted so far. */
    push(trades, input, onProgress) {
      let bytes = bytesOf(trades);
      if (!bytes && typeof trades === 'string' && input && input.format != null) bytes = utf8(trades);
      if (bytes) {
        const head = input === undefined || input === null ? '' : typeof input === 'string' ? input : text(input, 'input');
        // `onProgress(bytesRead, recordsRead)` while a log is read (the wasm build reads on
        // one thread and reports every block; the addon reads on all cores and does not).
        const progress = typeof onProgress === 'function' && typeof this.#core.pushBytesProgress === 'function';
        return JSON.parse(okText(invoke((h, b) => (progress ? this.#core.pushBytesProgress(h, b, onProgress) : this.#core.pushBytes(h, b)), head, bytes)));
      }
      const t = typeof trades === 'string' ? jsonArg(trades, 'trades', '[') : text(Array.isArray(trades) ? trades : [trades], 'trades');
      return JSON.parse(okText(invoke((x) => this.#core.push(x), t)));
    }
    /** The partial state so far, as canonical bytes (Node addon). */
    toBytes() {
      if (!hasStates()) throw fail('E_OPTIONS', `partial states (toBytes, merge) are in the Node addon (npm broker-rules); ${pkg.name} leaves them out for size`);
      const b = guard(() => this.#core.toBytes());
      if (!(b instanceof Uint8Array) || b.length === 0) throw errorOf(invoke(() => this.#core.lastError()));
      return b;
    }
    /** Adds a partial state (`toBytes` of a settlement of the same program, options and
     * registry; another is E_PARTIAL); returns the distinct trades accepted so far. */
    merge(state) {
      if (!hasStates()) throw fail('E_OPTIONS', `partial states (toBytes, merge) are in the Node addon (npm broker-rules); ${pkg.name} leaves them out for size`);
      const b = bytesOf(state);
      if (!b) throw fail('E_FIELD', 'merge takes a partial state as a Uint8Array (from toBytes)', { field: 'state' });
      return JSON.parse(okText(invoke((x) => this.#core.merge(x), b)));
    }
    /** The statement of the trades pushed so far, as canonical JSON text; the settlement
     * goes on (its state is copied, no trade is read again). A live view's running totals. */
    snapshotJson() {
      return okText(invoke(() => this.#core.snapshot()));
    }
    /** The statement of the trades pushed so far; the settlement goes on. */
    snapshot() {
      return JSON.parse(this.snapshotJson());
    }
    /** The statement's canonical JSON text. The settlement is spent afterwards. */
    finishJson() {
      const env = invoke(() => this.#core.finish());
      if (typeof this.#core.free === 'function') { try { this.#core.free(); } catch (_) { /* already freed */ } }
      this.#core = spent;
      return okText(env);
    }
    /** The statement. The settlement is spent afterwards. */
    finish() {
      return JSON.parse(this.finishJson());
    }
  }

  // compile(program).settle(...) / explain(...): the arguments of settle/explain without the
  // program: (trades, options?, registry?) with trades an array, its JSON text or a trade log
  // as bytes; or one request object without `program`.
  function compiledSettle(args) {
    const a = args[0];
    if (a !== null && typeof a === 'object' && !Array.isArray(a) && !bytesOf(a)) {
      let bytes = bytesOf(a.trades);
      if (!bytes && typeof a.trades === 'string' && a.format != null) bytes = utf8(a.trades);
      if (!bytes) return { request: text(a, 'request') };
      const { trades, ...head } = a;
      return { head: text(head, 'request'), bytes };
    }
    const bytes = bytesOf(a);
    if (bytes) return { head: compose({ options: args[1], registry: args[2] }), bytes };
    return { request: compose({ trades: a === undefined ? [] : a, options: args[1], registry: args[2] }) };
  }

  /** A program parsed, checked and hashed once: `settle`, `explain`, `estimate` take the
   * arguments of the plain functions without the program. */
  class Compiled {
    #core;
    constructor(program) {
      const p = programText(program);
      if (!core.CompiledCore) throw fail('E_OPTIONS', `${pkg.name}: this build has no compile`);
      this.#core = guard(() => new core.CompiledCore(p));
      const st = invoke(() => this.#core.status());
      if (st !== '{"ok":null}') throw errorOf(st);
    }
    #run(name, args) {
      const c = compiledSettle(args);
      return okText(c.bytes
        ? invoke((f, h, b) => this.#core.callBytes(f, h, b), name, c.head, c.bytes)
        : invoke((f, r) => this.#core.call(f, r), name, c.request));
    }
    /** The statement's canonical JSON text. */
    settleJson(...args) { return this.#run('settle', args); }
    settle(...args) { return JSON.parse(this.#run('settle', args)); }
    explainJson(...args) { return this.#run('explain', args); }
    explain(...args) { return JSON.parse(this.#run('explain', args)); }
    /** `scenario`: an object or its JSON text; or `{actuals, growth, broker?}`. */
    estimateJson(scenario) {
      const s = scenario;
      if (s !== null && typeof s === 'object' && !Array.isArray(s) && !bytesOf(s) && ('actuals' in s || 'growth' in s)) {
        const { actuals, ...rest } = s;
        const r = { ...(actuals === undefined ? {} : { actuals: actualsOf(actuals) }), ...rest };
        const b = estimateBytes([r]);
        return okText(b
          ? invoke((f, h, x) => this.#core.callBytes(f, h, x), 'estimate', b.head, b.bytes)
          : invoke((x) => this.#core.call('estimate', x), text(r, 'request')));
      }
      return okText(invoke((r) => this.#core.call('estimate', r), compose({ scenario: scenario === undefined ? null : scenario })));
    }
    estimate(scenario) { return JSON.parse(this.estimateJson(scenario)); }
  }

  api.compile = (program) => new Compiled(program);
  api.Compiled = Compiled;
  api.Settlement = Settlement;
  api.BrokerRulesError = BrokerRulesError;
  api.errorHelp = (code) => helpFor(String(code));
  api.engineVersion = () => invoke(core.engineVersion);
  return api;
}
