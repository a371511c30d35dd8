/**
 * The text-level pieces of the YAML reader in yaml.ts, which composes them into block mappings
 * and sequences: a line's indentation, key and comment, quoted scalars and their escapes, the
 * folding and chomping of a block scalar's lines, and flow collections read from their joined
 * text.
 */
import type { YamlValue } from './yaml';

/** Turns a message into the error to throw (the reader adds the document's name and line). */
export type Fail = (message: string) => Error;

/** The spellings of a null plain scalar. */
export const NULLS = new Set(['', '~', 'null', 'Null', 'NULL']);

export function indentOf(line: string): number {
  let n = 0;
  while (n < line.length && line[n] === ' ') {
    n++;
  }
  return n;
}

export function isDocumentMarker(line: string): boolean {
  return /^(---|\.\.\.)(\s|$)/.test(line);
}

export function isSequenceItem(content: string): boolean {
  return content === '-' || content.startsWith('- ') || content.startsWith('-\t');
}

/** The key of a `key: value` line (plain or quoted) and the length of `key:`; undefined when the line is no mapping entry. */
export function keyOf(content: string, fail: Fail): { key: string; length: number } | undefined {
  if (content.startsWith('"') || content.startsWith('\'')) {
    const end = closingQuote(content.slice(1), content[0]);
    if (end < 0) {
      return undefined;
    }
    const after = content.slice(end + 2);
    const m = /^[ \t]*:(?=\s|$)/.exec(after);
    if (!m) {
      return undefined;
    }
    return { key: unquote(content.slice(1, end + 1), content[0], fail), length: end + 2 + m[0].length };
  }
  if (/^[[{#&*!|>%@`]/.test(content) || isSequenceItem(content)) {
    return undefined;
  }
  const m = /^(.*?)[ \t]*:(?=\s|$)/.exec(content);
  if (!m || m[1].includes(' #')) {
    return undefined;
  }
  return { key: m[1], length: m[0].length };
}

/** The text without a trailing comment (` #...`), quotes respected. */
export function stripComment(text: string): string {
  const at = scanUnquoted(text,
    k => k === 0 || /[\s[{,:]/.test(text[k - 1]),
    (c, k) => c === '#' && (k === 0 || /\s/.test(text[k - 1])));
  return at >= 0 && at < text.length ? text.slice(0, at) : text;
}

/** Whether every `[` and `{` outside quotes is closed, and no quote is left open. */
export function balanced(text: string): boolean {
  let depth = 0;
  const end = scanUnquoted(text, () => true, c => {
    if (c === '[' || c === '{') {
      depth++;
    } else if (c === ']' || c === '}') {
      depth--;
    }
    return false;
  });
  return depth <= 0 && end >= 0;
}

/**
 * Walks the text outside its quoted runs: `visit` sees each character that is not inside quotes
 * (a quote that opens a run is not visited) and ends the walk by returning true. A quote opens a
 * run where `opensQuote` says; inside double quotes a backslash escapes the next character.
 *
 * @returns where the walk ended, `text.length` when it reached the end, -1 when it ended inside quotes
 */
function scanUnquoted(text: string, opensQuote: (k: number) => boolean, visit: (c: string, k: number) => boolean): number {
  let quote: string | undefined;
  for (let k = 0; k < text.length; k++) {
    const c = text[k];
    if (quote) {
      if (c === '\\' && quote === '"') {
        k++;
      } else if (c === quote) {
        quote = undefined;
      }
    } else if ((c === '"' || c === '\'') && opensQuote(k)) {
      quote = c;
    } else if (visit(c, k)) {
      return k;
    }
  }
  return quote ? -1 : text.length;
}

/** Index of the closing quote in text that follows an opening quote; -1 when there is none. */
export function closingQuote(text: string, quote: string): number {
  for (let k = 0; k < text.length; k++) {
    const c = text[k];
    if (quote === '"' && c === '\\') {
      k++;
    } else if (c === quote) {
      if (quote === '\'' && text[k + 1] === '\'') {
        k++;
      } else {
        return k;
      }
    }
  }
  return -1;
}

/** The value of a quoted scalar's inner text: escapes in double quotes, doubled quotes in single quotes. */
export function unquote(inner: string, quote: string, fail: Fail): string {
  return quote === '"' ? unescapeDouble(inner, fail) : inner.replace(/''/g, '\'');
}

const ESCAPES: Record<string, string> = {
  '0': '\0',
  'a': '\x07',
  'b': '\b',
  't': '\t',
  '\t': '\t',
  'n': '\n',
  'v': '\v',
  'f': '\f',
  'r': '\r',
  'e': '\x1b',
  ' ': ' ',
  '"': '"',
  '/': '/',
  '\\': '\\',
  'N': '\u0085',
  '_': '\u00a0',
  'L': '\u2028',
  'P': '\u2029',
};

function unescapeDouble(text: string, fail: Fail): string {
  return text.replace(/\\(x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)/g, (_, e: string) => {
    if (e.length > 1) {
      return String.fromCodePoint(parseInt(e.slice(1), 16));
    }
    const v = ESCAPES[e];
    if (v === undefined) {
      throw fail(`unknown escape \\${e} in a double-quoted scalar`);
    }
    return v;
  });
}

/**
 * A block scalar's value from its lines (their indentation removed): literal (`|`) keeps line
 * breaks, folded (`>`) joins lines with spaces; the empty lines at the end count only for
 * chomping (`-` strip, `+` keep, none: clip).
 */
export function blockScalarText(lines: string[], literal: boolean, chomp: string): string {
  // Trailing empty lines were read ahead: they belong to the scalar only for chomping.
  let trailing = 0;
  while (trailing < lines.length && lines[lines.length - 1 - trailing] === '') {
    trailing++;
  }
  const body = lines.slice(0, lines.length - trailing);
  if (body.length === 0) {
    return chomp === '+' ? '\n'.repeat(trailing) : '';
  }
  const text = literal ? body.join('\n') : folded(body);
  if (chomp === '-') {
    return text;
  }
  if (chomp === '+') {
    return text + '\n' + '\n'.repeat(trailing);
  }
  return text + '\n';
}

function folded(body: string[]): string {
  let text = body[0];
  for (let k = 1; k < body.length; k++) {
    const line = body[k];
    const prev = body[k - 1];
    if (line === '') {
      // Each empty line is one line break; the break before it folds away.
      text += '\n';
    } else if (prev === '') {
      text += line;
    } else {
      // More-indented lines keep their line breaks.
      text += line.startsWith(' ') || prev.startsWith(' ') ? '\n' + line : ' ' + line;
    }
  }
  return text;
}

/** A flow collection (`[a, b]`, `{k: v}`) or scalar inside one, from its text joined on one line. */
export class FlowReader {
  private pos = 0;
  constructor(private readonly text: string, private readonly fail: Fail, private readonly plain: (text: string) => string) {}

  public read(): YamlValue {
    const value = this.value();
    this.space();
    if (this.pos < this.text.length) {
      throw this.fail(`unexpected text after a flow collection: ${JSON.stringify(this.text.slice(this.pos))}`);
    }
    return value;
  }

  private value(): YamlValue {
    this.space();
    const c = this.text[this.pos];
    if (c === '[') {
      const out: YamlValue[] = [];
      this.items(']', 'sequence', () => out.push(this.value()));
      return out;
    }
    if (c === '{') {
      const out: { [key: string]: YamlValue } = {};
      this.items('}', 'mapping', () => {
        const key = this.value();
        this.space();
        let value: YamlValue = null;
        if (this.text[this.pos] === ':') {
          this.pos++;
          value = this.value();
        }
        out[typeof key === 'string' ? key : JSON.stringify(key)] = value;
      });
      return out;
    }
    if (c === '"' || c === '\'') {
      const end = closingQuote(this.text.slice(this.pos + 1), c);
      if (end < 0) {
        throw this.fail('unterminated quoted scalar');
      }
      const inner = this.text.slice(this.pos + 1, this.pos + 1 + end);
      this.pos += end + 2;
      return unquote(inner, c, this.fail);
    }
    const start = this.pos;
    while (this.pos < this.text.length) {
      const ch = this.text[this.pos];
      if (ch === ',' || ch === ']' || ch === '}' || (ch === ':' && /[\s,\]}]/.test(this.text[this.pos + 1] ?? ' '))) {
        break;
      }
      this.pos++;
    }
    const plain = this.text.slice(start, this.pos).trim();
    return NULLS.has(plain) ? null : this.plain(plain);
  }

  /** The items of the collection opened here, each read by `item`, up to `close`, comma-separated. */
  private items(close: string, kind: string, item: () => void): void {
    this.pos++;
    for (;;) {
      this.space();
      if (this.text[this.pos] === close) {
        this.pos++;
        return;
      }
      item();
      this.space();
      if (this.text[this.pos] === ',') {
        this.pos++;
      } else if (this.text[this.pos] !== close) {
        throw this.fail(`expected "," or "${close}" in a flow ${kind}`);
      }
    }
  }

  private space(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos])) {
      this.pos++;
    }
  }
}
