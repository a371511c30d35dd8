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
  const registries: RegistryTls[] = [];
  for (const [side, registry] of [['src', source], ['dest', destination]] as const) {
    const certDir = lastValue(args, `--${side}-cert-dir`);
    const verify = lastValue(args, `--${side}-tls-verify`);
    if (verify !== undefined && verify !== 'true' && verify !== 'false') {
      throw new UsageError(`--${side}-tls-verify ${JSON.stringify(verify)} is not allowed: true or false`);
    }
    registries.push({ registry, certDir, verify: verify === undefined ? undefined : verify === 'true', where: `--${side}-cert-dir` });
  }
  return tlsSettings(registries);
}

/** TLS settings of one registry. */
export interface RegistryTls {
  readonly registry: string;
  /** A directory of CA certificates to trust; the registry then speaks HTTPS. */
  readonly certDir?: string;
  /** true: HTTPS, verified; false: HTTPS, any certificate; undefined: HTTPS unless on loopback. */
  readonly verify?: boolean;
  /** Names the setting in messages (`--src-cert-dir`, a config key). */
  readonly where: string;
}

/**
 * The engine's routes for registries with their own TLS settings.
 *
 * @throws UsageError for a certificate directory that cannot be read or holds no certificate
 */
export function tlsSettings(registries: readonly RegistryTls[]): TlsSettings {
  const https = new Set<string>();
  const insecure = new Set<string>();
  const ca: string[] = [];
  for (const r of registries) {
    if (r.certDir !== undefined) {
      ca.push(...readCertDir(r.certDir, r.where));
      https.add(r.registry);
    }
    if (r.verify !== undefined) {
      // Either way the registry speaks HTTPS, as skopeo reads the option: true verifies, false does not.
      https.add(r.registry);
      if (!r.verify) {
        insecure.add(r.registry);
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
