/**
 * A small YAML reader for the files a chart and a classic Helm repository carry (`Chart.yaml`,
 * `index.yaml`): block mappings and sequences, plain, quoted and block scalars, flow collections
 * and comments. Scalars stay text (`null`, `~` and an empty value are null); a caller that types
 * plain scalars as some YAML library does passes `plainScalar` (Chart.yaml: see chart-metadata.ts).
 * Anchors, aliases, tags and multi-document streams are refused with a clear error rather than
 * read wrongly. This module reads the block structure, line by line; the text within a line
 * (keys, comments, quotes, escapes, block scalars' folding, flow collections) is yaml-scan.ts's.
 */

import {
  FlowReader, NULLS, balanced, blockScalarText, closingQuote, indentOf, isDocumentMarker, isSequenceItem, keyOf, stripComment, unquote,
} from './yaml-scan';

export type YamlValue = string | null | YamlValue[] | { [key: string]: YamlValue };

/** A YAML document that cannot be read; the message names the line. */
export class YamlError extends Error {}

/**
 * Reads one YAML document.
 *
 * @param what names the document in errors (e.g. `Chart.yaml`)
 * @throws YamlError naming the line and what is wrong
 */
export function parseYaml(text: string, what = 'YAML', options: YamlOptions = {}): YamlValue {
  const trimmed = text.replace(/^\uFEFF/, '').trim();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    // JSON is YAML: a generated index.yaml is sometimes written as JSON.
    try {
      return fromJson(JSON.parse(trimmed), options.plainScalar);
    } catch {
      // Not JSON after all: a flow collection, read below.
    }
  }
  return new Reader(text.replace(/^\uFEFF/, ''), what, options.plainScalar ?? (x => x)).document();
}

export interface YamlOptions {
  /** Turns the text of every plain (unquoted, non-null) scalar into the value kept. */
  readonly plainScalar?: (text: string) => string;
}

function fromJson(value: unknown, plain?: (text: string) => string): YamlValue {
  if (value === null || value === undefined) {
    return null;
  }
  if (Array.isArray(value)) {
    return value.map(v => fromJson(v, plain));
  }
  if (typeof value === 'object') {
    const out: { [key: string]: YamlValue } = {};
    for (const [k, v] of Object.entries(value as object)) {
      out[k] = fromJson(v, plain);
    }
    return out;
  }
  // JSON numbers and booleans are what YAML's plain scalars would be.
  return typeof value === 'string' || !plain ? String(value) : plain(String(value));
}

/** The `true`/`false` spellings YAML 1.1 (Go's yaml.v2, which Helm reads with) takes. */
export function yamlBoolean(value: YamlValue | undefined): boolean | undefined {
  if (typeof value !== 'string') {
    return undefined;
  }
  if (/^(true|True|TRUE|yes|Yes|YES|on|On|ON|y|Y)$/.test(value)) {
    return true;
  }
  if (/^(false|False|FALSE|no|No|NO|off|Off|OFF|n|N)$/.test(value)) {
    return false;
  }
  return undefined;
}

class Reader {
  private readonly lines: string[];
  private i = 0;

  constructor(text: string, private readonly what: string, private readonly plain: (text: string) => string) {
    this.lines = text.split(/\r?\n/);
  }

  public document(): YamlValue {
    this.skipBlank();
    if (this.i < this.lines.length && /^---(\s|$)/.test(this.lines[this.i])) {
      const rest = this.lines[this.i].slice(3).trim();
      if (rest && !rest.startsWith('#')) {
        throw this.error('a value on the document start line is not supported');
      }
      this.i++;
    }
    const value = this.node(-1);
    this.skipBlank();
    if (this.i < this.lines.length && /^\.\.\.(\s|$)/.test(this.lines[this.i])) {
      this.i++;
      this.skipBlank();
    }
    if (this.i < this.lines.length) {
      throw this.error(/^---(\s|$)/.test(this.lines[this.i]) ? 'more than one document' : 'unexpected text (check its indentation)');
    }
    return value;
  }

  /** The node on the next content line, when it is indented more than `parent`. */
  private node(parent: number): YamlValue {
    this.skipBlank();
    if (this.i >= this.lines.length) {
      return null;
    }
    const line = this.lines[this.i];
    const indent = indentOf(line);
    if (indent <= parent) {
      return null;
    }
    const content = line.slice(indent);
    if (content.startsWith('\t')) {
      throw this.error('tabs are not allowed for indentation');
    }
    if (isSequenceItem(content)) {
      return this.sequence(indent);
    }
    if (this.keyOf(content)) {
      return this.mapping(indent);
    }
    return this.scalarLines(parent, content);
  }

  private sequence(indent: number): YamlValue[] {
    const out: YamlValue[] = [];
    for (;;) {
      this.skipBlank();
      if (this.i >= this.lines.length) {
        return out;
      }
      const line = this.lines[this.i];
      if (isDocumentMarker(line) || indentOf(line) !== indent || !isSequenceItem(line.slice(indent))) {
        return out;
      }
      const rest = line.slice(indent + 1);
      if (stripComment(rest).trim() === '') {
        this.i++;
        out.push(this.node(indent));
      } else {
        // `- key: value`: the item is the node that starts where its text starts.
        this.lines[this.i] = ' '.repeat(indent + 1) + rest;
        out.push(this.node(indent));
      }
    }
  }

  private mapping(indent: number): { [key: string]: YamlValue } {
    const out: { [key: string]: YamlValue } = {};
    for (;;) {
      this.skipBlank();
      if (this.i >= this.lines.length) {
        return out;
      }
      const line = this.lines[this.i];
      const at = indentOf(line);
      if (isDocumentMarker(line)) {
        return out;
      }
      if (at !== indent) {
        if (at > indent) {
          throw this.error('unexpected indentation');
        }
        return out;
      }
      const key = this.keyOf(line.slice(indent));
      if (!key) {
        if (isSequenceItem(line.slice(indent))) {
          return out;
        }
        throw this.error('expected "key: value"');
      }
      if (key.key === '<<') {
        throw this.error('merge keys are not supported');
      }
      if (Object.prototype.hasOwnProperty.call(out, key.key)) {
        // `helm lint` refuses it too (its strict read of Chart.yaml); reading on would pick one silently.
        throw this.error(`key ${JSON.stringify(key.key)} is already defined`);
      }
      const rest = stripComment(line.slice(indent + key.length)).trim();
      this.i++;
      if (rest === '') {
        this.skipBlank();
        const next = this.lines[this.i];
        // A sequence may sit at its key's own indentation.
        if (next !== undefined && indentOf(next) === indent && isSequenceItem(next.slice(indent))) {
          out[key.key] = this.sequence(indent);
        } else {
          out[key.key] = this.node(indent);
        }
      } else {
        out[key.key] = this.inlineValue(rest, indent, line.slice(indent + key.length));
      }
    }
  }

  /** A value that starts on its key's line (already consumed). */
  private inlineValue(rest: string, indent: number, raw: string): YamlValue {
    const first = rest[0];
    if (first === '&' || first === '*') {
      throw this.error('anchors and aliases are not supported', -1);
    }
    if (first === '!') {
      throw this.error('tags are not supported', -1);
    }
    if (first === '|' || first === '>') {
      return this.blockScalar(rest, indent);
    }
    if (first === '"' || first === '\'') {
      return this.quoted(raw.trimStart(), indent);
    }
    if (first === '[' || first === '{') {
      let text = rest;
      while (!balanced(text)) {
        if (this.i >= this.lines.length) {
          throw this.error('unterminated flow collection');
        }
        text += ' ' + stripComment(this.lines[this.i++]).trim();
      }
      return new FlowReader(text, (m) => this.error(m, -1), this.plain).read();
    }
    return this.plainContinued(rest, indent);
  }

  /** A plain scalar and its continuation lines (folded with spaces). */
  private plainContinued(first: string, indent: number): YamlValue {
    const parts = [first];
    let blanks = 0;
    while (this.i < this.lines.length) {
      const line = this.lines[this.i];
      if (line.trim() === '') {
        blanks++;
        this.i++;
        continue;
      }
      if (indentOf(line) <= indent || line.trim().startsWith('#')) {
        break;
      }
      parts.push(blanks > 0 ? '\n'.repeat(blanks) : ' ', stripComment(line).trim());
      blanks = 0;
      this.i++;
    }
    const text = parts.join('');
    if (parts.length > 1) {
      return text;
    }
    return NULLS.has(text) ? null : this.plain(text);
  }

  /** A scalar on its own line(s): a top-level or sequence-item scalar. */
  private scalarLines(parent: number, content: string): YamlValue {
    this.i++;
    const rest = stripComment(content).trim();
    return this.inlineValue(rest, parent, content);
  }

  private quoted(raw: string, indent: number): string {
    const quote = raw[0];
    let text = raw.slice(1);
    // The line the scalar starts on (already consumed), for messages.
    const startLine = this.i;
    for (;;) {
      const end = closingQuote(text, quote);
      if (end >= 0) {
        const after = stripComment(text.slice(end + 1)).trim();
        if (after !== '') {
          throw this.error(`unexpected text after a quoted scalar: ${JSON.stringify(after)}`, -1);
        }
        return unquote(text.slice(0, end), quote, (m) => this.error(m, -1));
      }
      if (this.i >= this.lines.length || (this.lines[this.i].trim() !== '' && indentOf(this.lines[this.i]) <= indent)) {
        throw new YamlError(`${this.what} line ${startLine}: unterminated quoted scalar`);
      }
      // A line break inside quotes folds to a space (an empty line to a newline).
      const next = this.lines[this.i++].trim();
      text = text.replace(/[ \t]+$/, '') + (next === '' ? '\n' : (text.endsWith('\n') ? '' : ' ')) + next;
    }
  }

  private blockScalar(header: string, indent: number): string {
    const m = /^([|>])([1-9])?([+-])?([1-9])?$/.exec(header);
    if (!m) {
      throw this.error(`unsupported block scalar header ${JSON.stringify(header)}`, -1);
    }
    const literal = m[1] === '|';
    const chomp = m[3] ?? '';
    const explicit = m[2] ?? m[4];
    const body: string[] = [];
    let contentIndent = explicit ? indent + Number(explicit) : -1;
    while (this.i < this.lines.length) {
      const line = this.lines[this.i];
      if (line.trim() === '') {
        body.push('');
        this.i++;
        continue;
      }
      const at = indentOf(line);
      if (contentIndent < 0) {
        if (at <= indent) {
          break;
        }
        contentIndent = at;
      }
      if (at < contentIndent) {
        break;
      }
      body.push(line.slice(contentIndent));
      this.i++;
    }
    return blockScalarText(body, literal, chomp);
  }

  /** The line's key, if it is a mapping entry (an escape error in a quoted key names no line). */
  private keyOf(content: string): { key: string; length: number } | undefined {
    return keyOf(content, (m) => new YamlError(m));
  }

  private skipBlank(): void {
    while (this.i < this.lines.length) {
      const t = this.lines[this.i].trim();
      if (t === '' || t.startsWith('#')) {
        this.i++;
      } else if (/^%/.test(this.lines[this.i])) {
        throw this.error('directives are not supported');
      } else {
        return;
      }
    }
  }

  private error(message: string, offset = 0): YamlError {
    return new YamlError(`${this.what} line ${this.i + 1 + offset}: ${message}`);
  }
}
