/**
 * Platforms of multi-platform images, `os/architecture[/variant]` (`linux/amd64`,
 * `linux/arm64/v8`): the grammar, written once for the constructs' validation and the engine.
 */

/** A platform as index entries and image configs state it. */
export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
}

const PLATFORM_PART = /^[a-z0-9_.-]+$/i;

/** Why `text` is not `os/architecture[/variant]`, or undefined when it is. */
export function platformProblem(text: string): string | undefined {
  const parts = typeof text === 'string' ? text.split('/') : [];
  if (parts.length < 2 || parts.length > 3 || parts.some(p => !PLATFORM_PART.test(p))) {
    return 'expected os/architecture[/variant], e.g. linux/amd64 or linux/arm64/v8';
  }
  return undefined;
}

/** Parses `os/architecture[/variant]`; throws on anything else. */
export function parsePlatform(text: string): Platform {
  const problem = platformProblem(text);
  if (problem) {
    throw new Error(`Invalid platform ${JSON.stringify(text)}: ${problem}`);
  }
  const [os, architecture, variant] = text.split('/');
  return { os, architecture, variant };
}

/** `os/architecture[/variant]`. */
export function formatPlatform(p: Platform): string {
  return p.variant ? `${p.os}/${p.architecture}/${p.variant}` : `${p.os}/${p.architecture}`;
}

// arm64 images are v8 whether or not they say so.
function normalizedVariant(p: Platform): string | undefined {
  if (p.variant) {
    return p.variant;
  }
  if (p.architecture === 'arm64') {
    return 'v8';
  }
  return undefined;
}

/** Whether `candidate` satisfies the wanted platform (a wanted platform without a variant matches any variant). */
export function platformMatches(wanted: Platform, candidate: Platform): boolean {
  if (wanted.os !== candidate.os || wanted.architecture !== candidate.architecture) {
    return false;
  }
  if (!wanted.variant) {
    return true;
  }
  return normalizedVariant(wanted) === normalizedVariant(candidate);
}
