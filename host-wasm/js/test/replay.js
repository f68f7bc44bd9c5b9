// Replays one conformance vector through a broker-rules JS package (either package, in Node
// or in a browser page). Returns a list of failures (empty = pass). A vector:
// {name, description, call, input, checks?: [{path, value}], expected: envelope | null}.
export const FUNCTIONS = ['settle', 'estimate', 'explain', 'validate', 'program', 'programs', 'reconcile'];

export function pointer(doc, path) {
  if (path === '') return doc;
  let cur = doc;
  for (const raw of path.split('/').slice(1)) {
    const k = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (cur === null || typeof cur !== 'object' || !(k in cur)) return undefined;
    cur = cur[k];
  }
  return cur;
}

export function replay(api, v) {
  const failures = [];
  const input = JSON.stringify(v.input);
  const env = api.call(v.call, input);
  if (v.expected !== null && v.expected !== undefined) {
    const want = JSON.stringify(v.expected);
    if (env !== want) failures.push(`envelope differs:\n  got  ${env.slice(0, 400)}\n  want ${want.slice(0, 400)}`);
  }
  const parsed = JSON.parse(env);
  for (const c of v.checks || []) {
    const got = pointer(parsed, c.path);
    if (JSON.stringify(got) !== JSON.stringify(c.value)) failures.push(`check ${c.path}: got ${JSON.stringify(got)}, want ${JSON.stringify(c.value)}`);
  }
  if ((v.expected === null || v.expected === undefined) && !(v.checks || []).length) failures.push('vector has neither expected nor checks');
  // The typed API gives the same bytes, or throws the same error.
  if (FUNCTIONS.includes(v.call)) {
    const fn = api[`${v.call}Json`];
    const arg = v.call === 'programs' ? [] : [input];
    if (env.startsWith('{"ok":')) {
      let got;
      try { got = fn(...arg); } catch (e) { failures.push(`${v.call}Json threw ${e && e.code} ${e && e.message}`); }
      if (got !== undefined && got !== env.slice(6, -1)) failures.push(`${v.call}Json differs from the envelope's ok`);
      if (got !== undefined && JSON.stringify(api[v.call](...arg)) !== got) failures.push(`${v.call}() object differs`);
    } else {
      const want = parsed.error;
      try {
        fn(...arg);
        failures.push(`${v.call}Json did not throw ${want.code}`);
      } catch (e) {
        if (!(e instanceof api.BrokerRulesError)) failures.push(`threw a ${e && e.name}, not BrokerRulesError: ${e && e.message}`);
        else if (JSON.stringify(e.toJSON()) !== JSON.stringify(want)) failures.push(`error differs: ${JSON.stringify(e.toJSON())} vs ${JSON.stringify(want)}`);
      }
    }
  }
  return { env, failures };
}
