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

  // JSON text of a value. Strings are taken as JSON text already when `raw` is true.
  function text(value, what) {
    let s;
    try {
      s = JSON.stringify(value);
    } catch (e) {
      throw fail('E_PARSE', `${what} cannot be serialized as JSON: ${e && e.message}`, { field: what });
    }
    if (s === undefined) throw fail('E_FIELD', `${what} is not a JSON value`, { field: what });
    return s;
  }

  // A whole request: an object, or JSON text passed through byte for byte.
  function requestText(request) {
    if (typeof request === 'string') return request;
    if (request === undefined || request === null) return '{}';
    return text(request, 'request');
  }

  // A program argument: a built-in id, a program object, or program JSON text.
  function programText(program) {
    if (typeof program === 'string') return program.trim().startsWith('{') ? program : JSON.stringify(program);
    return text(program, 'program');
  }

  // A request built from positional arguments; string parts are JSON text (program: an id).
  function compose(parts) {
    const out = [];
    for (const [k, v] of Object.entries(parts)) {
      if (v === undefined) continue;
      const t = k === 'program' ? programText(v) : typeof v === 'string' ? v : text(v, k);
      out.push(`${JSON.stringify(k)}:${t}`);
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

  const api = {};
  const entries = [
    ['settle', core.settleJson, settleReq, true],
    ['explain', core.explainJson, settleReq, true],
    ['estimate', core.estimateJson, estimateReq],
    ['validate', core.validateJson, (args) => requestText(args[0])],
    ['program', core.programJson, programReq],
    ['programs', () => core.programsJson(), () => '{}'],
  ];
  for (const [name, fn, req, takesBytes] of entries) {
    const json = (...args) => {
      const b = takesBytes ? bytesCall(args) : null;
      return okText(b ? bytesEnvelope(name, b) : invoke(fn, req(args)));
    };
    api[`${name}Json`] = json;
    api[name] = (...args) => JSON.parse(json(...args));
    api[`${name}JsonAsync`] = (...args) => {
      let request, b;
      try {
        b = takesBytes ? bytesCall(args) : null;
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
      const opt = options === undefined || options === null ? '' : typeof options === 'string' ? options : text(options, 'options');
      const reg = registry === undefined || registry === null ? '' : typeof registry === 'string' ? registry : text(registry, 'registry');
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
      const t = typeof trades === 'string' ? trades : text(Array.isArray(trades) ? trades : [trades], 'trades');
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
    /** `scenario`: an object or its JSON text. */
    estimateJson(scenario) {
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
