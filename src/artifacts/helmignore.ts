/**
 * `.helmignore` as Helm reads it (helm's `pkg/ignore`): one Go `filepath.Match` pattern a line,
 * `#` comments, `!` negation, a trailing `/` for directories only, a leading `/` or any `/` for a
 * match against the whole path, otherwise against the base name; `**` is refused. Rules are
 * tried in order and the first that decides wins, including Helm's quirk that a negated rule
 * ignores every path it does *not* match. Helm always adds `templates/.?*` (dotfiles in
 * templates/).
 */

interface Rule {
  readonly raw: string;
  readonly negate: boolean;
  readonly mustDir: boolean;
  readonly whole: boolean;
  readonly pattern: RegExp;
}

/** A `.helmignore` that Helm would refuse. */
export class HelmIgnoreError extends Error {}

export class HelmIgnore {
  /**
   * The rules of a `.helmignore` file, then Helm's default rule.
   *
   * @throws HelmIgnoreError for `**` or a pattern Go cannot compile, naming the line
   */
  public static parse(text: string): HelmIgnore {
    return HelmIgnore.rules(text, true);
  }

  /**
   * Rules in the same syntax, without Helm's default rule (e.g. a bundle's exclusions).
   *
   * @param helmDefaults add Helm's `templates/.?*`
   */
  public static rules(text: string, helmDefaults = false): HelmIgnore {
    const rules: Rule[] = [];
    text.replace(/^\uFEFF/, '').split(/\r?\n/).forEach((line, index) => {
      const rule = parseRule(line, index + 1);
      if (rule) {
        rules.push(rule);
      }
    });
    if (helmDefaults) {
      rules.push(parseRule('templates/.?*', 0)!);
    }
    return new HelmIgnore(rules);
  }

  private constructor(private readonly rules: readonly Rule[]) {}

  /** Whether Helm leaves out the path (relative to the chart, `/`-separated). */
  public ignores(path: string, isDirectory: boolean): boolean {
    if (path === '' || path === '.' || path === './') {
      return false;
    }
    for (const rule of this.rules) {
      const name = rule.whole ? path : path.slice(path.lastIndexOf('/') + 1);
      if (rule.negate) {
        if (rule.mustDir && !isDirectory) {
          return true;
        }
        if (!rule.pattern.test(name)) {
          return true;
        }
        continue;
      }
      if (rule.mustDir && !isDirectory) {
        continue;
      }
      if (rule.pattern.test(name)) {
        return true;
      }
    }
    return false;
  }
}

function parseRule(line: string, lineNumber: number): Rule | undefined {
  let rule = line.trim();
  if (rule === '' || rule.startsWith('#')) {
    return undefined;
  }
  const raw = rule;
  if (rule.includes('**')) {
    throw new HelmIgnoreError(`.helmignore line ${lineNumber}: ${JSON.stringify(raw)}: double-star (**) syntax is not supported`);
  }
  // Helm checks the whole line, `!` included, compiles.
  globToRegExp(rule, lineNumber);
  let negate = false;
  if (rule.startsWith('!')) {
    negate = true;
    rule = rule.slice(1);
  }
  let mustDir = false;
  if (rule.endsWith('/')) {
    mustDir = true;
    rule = rule.slice(0, -1);
  }
  let whole = rule.includes('/');
  if (rule.startsWith('/')) {
    rule = rule.slice(1);
    whole = true;
  }
  return { raw, negate, mustDir, whole, pattern: globToRegExp(rule, lineNumber) };
}

/** Go's `filepath.Match` (on `/`-separated paths) as an anchored RegExp. */
export function globToRegExp(pattern: string, lineNumber = 0): RegExp {
  let out = '';
  const bad = () => new HelmIgnoreError(`.helmignore line ${lineNumber}: ${JSON.stringify(pattern)}: syntax error in pattern`);
  for (let k = 0; k < pattern.length; k++) {
    const c = pattern[k];
    if (c === '*') {
      out += '[^/]*';
    } else if (c === '?') {
      out += '[^/]';
    } else if (c === '\\') {
      if (k + 1 >= pattern.length) {
        throw bad();
      }
      out += escapeRegExp(pattern[++k]);
    } else if (c === '[') {
      let k2 = k + 1;
      let cls = '';
      if (pattern[k2] === '^') {
        cls += '^';
        k2++;
      }
      let first = true;
      while (k2 < pattern.length && (pattern[k2] !== ']' || first)) {
        first = false;
        let ch = pattern[k2];
        if (ch === '\\') {
          k2++;
          if (k2 >= pattern.length) {
            throw bad();
          }
          ch = pattern[k2];
        } else if (ch === ']') {
          // Go does not take an empty class.
          throw bad();
        }
        cls += ch === '-' && cls !== '' && cls !== '^' && pattern[k2 + 1] !== ']' ? '-' : escapeRegExp(ch);
        k2++;
      }
      if (k2 >= pattern.length || cls === '' || cls === '^') {
        throw bad();
      }
      out += `[${cls}]`;
      k = k2;
    } else {
      out += escapeRegExp(c);
    }
  }
  try {
    return new RegExp(`^${out}$`, 's');
  } catch {
    throw bad();
  }
}

function escapeRegExp(c: string): string {
  return /[\\^$.*+?()[\]{}|/-]/.test(c) ? `\\${c}` : c;
}
