/**
 * TLS per side of a copy, with skopeo's option names: `--src-cert-dir DIR` / `--dest-cert-dir DIR`
 * trust the CA certificates in DIR and make that registry speak HTTPS (loopback included);
 * `--src-tls-verify=false` / `--dest-tls-verify=false` accept any certificate from it, and
 * `--src-tls-verify` / `--dest-tls-verify` (`=true`) require HTTPS with a verified certificate.
 */
import * as fs from 'fs';
import * as path from 'path';
import { isLoopbackHost } from '../image-reference';
import { RegistryRoutes } from '../sync';
import { Args, UsageError, lastValue } from './args';

/** The options this module reads. */
export const TLS_OPTIONS = ['--src-cert-dir', '--dest-cert-dir', '--src-tls-verify', '--dest-tls-verify'];
const BOOLEAN_OPTIONS = ['--src-tls-verify', '--dest-tls-verify'];

/** What the TLS options make of the engine's routes. */
export interface TlsSettings {
  readonly routes: Pick<RegistryRoutes, 'plainHttp' | 'ca' | 'insecureTls'>;
}

/** `--src-tls-verify` alone means `=true`, as skopeo reads it. */
export function normalizeTlsWords(argv: string[]): string[] {
  return argv.map(word => (BOOLEAN_OPTIONS.includes(word) ? `${word}=true` : word));
}

/**
 * Reads the TLS options for a copy from `source` to `destination` (registry hosts).
 *
 * @throws UsageError for a directory without certificates or a verify value that is not a boolean
 */
export function readTlsSettings(args: Args, source: string, destination: string): TlsSettings {
  const https = new Set<string>();
  const insecure = new Set<string>();
  const ca: string[] = [];
  for (const [side, registry] of [['src', source], ['dest', destination]] as const) {
    const dir = lastValue(args, `--${side}-cert-dir`);
    if (dir !== undefined) {
      ca.push(...readCertDir(dir, `--${side}-cert-dir`));
      https.add(registry);
    }
    const verify = lastValue(args, `--${side}-tls-verify`);
    if (verify !== undefined) {
      if (verify !== 'true' && verify !== 'false') {
        throw new UsageError(`--${side}-tls-verify ${JSON.stringify(verify)} is not allowed: true or false`);
      }
      // Either way the registry speaks HTTPS, as skopeo reads the option: true verifies, false does not.
      https.add(registry);
      if (verify === 'false') {
        insecure.add(registry);
      }
    }
  }
  return {
    routes: {
      plainHttp: host => isLoopbackHost(host) && !https.has(host),
      ...(ca.length > 0 ? { ca } : {}),
      ...(insecure.size > 0 ? { insecureTls: (host: string) => insecure.has(host) } : {}),
    },
  };
}

/** The PEM certificates (`*.crt`, `*.pem`) in a directory. */
function readCertDir(dir: string, option: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (err) {
    throw new UsageError(`${option} ${JSON.stringify(dir)} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const pems = names.filter(n => n.endsWith('.crt') || n.endsWith('.pem')).sort()
    .map(n => fs.readFileSync(path.join(dir, n), 'utf8'))
    .filter(text => text.includes('-----BEGIN CERTIFICATE-----'));
  if (pems.length === 0) {
    throw new UsageError(`${option} ${JSON.stringify(dir)} holds no PEM certificates (*.crt or *.pem)`);
  }
  return pems;
}
