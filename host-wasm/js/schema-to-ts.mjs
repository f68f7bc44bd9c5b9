// JSON Schema (draft 2020-12, as schemars writes /schemas/*.schema.json) to TypeScript
// declarations. Handles what the core's schemas use: $ref to $defs, const, enum, oneOf /
// anyOf / allOf, type arrays, objects with properties / required / additionalProperties,
// arrays. Every root title and $defs entry becomes one exported type; the same name from two
// files must describe the same schema (else it throws, so a drift is seen, not hidden).
import fs from 'node:fs';
import path from 'node:path';

const RENAME = { Error: 'CoreError' }; // `Error` would shadow the JS Error class

const ident = (n) => RENAME[n] || n;
const key = (k) => (/^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k));

function doc(s, indent) {
  const lines = [];
  if (s && s.description) lines.push(...s.description.split('\n'));
  if (s && s.default !== undefined) lines.push(`Default: \`${JSON.stringify(s.default)}\`.`);
  if (!lines.length) return '';
  if (lines.length === 1) return `${indent}/** ${lines[0].replace(/\*\//g, '*\\/')} */\n`;
  return `${indent}/**\n${lines.map((l) => `${indent} * ${l.replace(/\*\//g, '*\\/')}`).join('\n')}\n${indent} */\n`;
}

const union = (parts) => {
  const uniq = [...new Set(parts)];
  return uniq.length === 1 ? uniq[0] : uniq.map((p) => (p.includes('\n') || /[&|]/.test(p) ? `(${p})` : p)).join(' | ');
};

function objectType(s, indent) {
  const props = s.properties || {};
  const req = new Set(s.required || []);
  const inner = indent + '  ';
  const fields = Object.keys(props).map((k) => `${doc(props[k], inner)}${inner}${key(k)}${req.has(k) ? '' : '?'}: ${type(props[k], inner)};`);
  const ap = s.additionalProperties;
  if (ap && ap !== true && typeof ap === 'object') {
    if (!fields.length) return `Record<string, ${type(ap, indent)}>`;
    fields.push(`${inner}[key: string]: ${type(ap, inner)} | undefined;`);
  } else if (ap === undefined && !fields.length) {
    return 'Record<string, unknown>';
  }
  return fields.length ? `{\n${fields.join('\n')}\n${indent}}` : '{}';
}

export function type(s, indent = '') {
  if (s === true || s === undefined || (s && Object.keys(s).length === 0)) return 'unknown';
  if (s === false) return 'never';
  if (s.$ref) {
    const m = s.$ref.match(/^#\/\$defs\/(.+)$/);
    if (!m) throw new Error(`unsupported $ref ${s.$ref}`);
    return ident(m[1]);
  }
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.enum) return union(s.enum.map((v) => JSON.stringify(v)));
  if (s.oneOf || s.anyOf) return union((s.oneOf || s.anyOf).map((x) => type(x, indent)));
  if (s.allOf) return s.allOf.map((x) => type(x, indent)).join(' & ');
  const t = s.type;
  if (Array.isArray(t)) return union(t.map((x) => type({ ...s, type: x }, indent)));
  switch (t) {
    case 'string': return 'string';
    case 'integer':
    case 'number': return 'number';
    case 'boolean': return 'boolean';
    case 'null': return 'null';
    case 'array': {
      const it = type(s.items, indent);
      return /[|&\n]/.test(it) ? `Array<${it}>` : `${it}[]`;
    }
    case 'object': return objectType(s, indent);
    default:
      if (s.properties) return objectType(s, indent);
      throw new Error(`unsupported schema: ${JSON.stringify(s).slice(0, 200)}`);
  }
}

function declaration(name, s) {
  const t = type(s, '');
  const isObject = t.startsWith('{') && (s.type === 'object' || s.properties);
  return `${doc(s, '')}${isObject ? `export interface ${name} ${t}` : `export type ${name} = ${t};`}\n`;
}

/** Declarations for every schema file in `dir`, and the root type name of each file. */
export function schemasToTs(dir) {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.schema.json')).sort();
  if (!files.length) throw new Error(`no *.schema.json in ${dir}`);
  const defs = new Map(); // name -> [schema, file]
  const roots = {};
  const add = (name, s, file) => {
    const canon = JSON.stringify(s);
    const seen = defs.get(name);
    if (seen && JSON.stringify(seen[0]) !== canon) throw new Error(`type ${name} differs between ${seen[1]} and ${file}`);
    if (!seen) defs.set(name, [s, file]);
  };
  for (const f of files) {
    const s = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
    const { $schema, $defs, title, ...root } = s;
    if (!title) throw new Error(`${f} has no title`);
    roots[f.replace(/\.schema\.json$/, '')] = ident(title);
    add(ident(title), root, f);
    for (const [n, d] of Object.entries($defs || {})) add(ident(n), d, f);
  }
  const out = [...defs.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([n, [s]]) => declaration(n, s));
  return { text: out.join('\n'), roots, files };
}
