import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { isLoopbackHost } from '../../src/image-reference';

/**
 * TLS for the registry test bed: a CA and a server certificate (for 127.0.0.1, ::1 and localhost)
 * made with openssl once per test process, in a temporary directory removed when it exits.
 * Every TLS listener of the bed (registries, fault proxies) registers its host here, so a client
 * can tell which loopback hosts speak HTTPS.
 */
export interface BedTls {
  /** The CA certificate (PEM): what a client trusts. */
  readonly ca: string;
  /** A directory holding only `ca.crt`: what `--src-cert-dir` / `--dest-cert-dir` take. */
  readonly certDir: string;
  /** The server certificate and key files (PEM), for docker-registry's `http.tls`. */
  readonly certFile: string;
  readonly keyFile: string;
  /** The same, read, for Node's `https.createServer`. */
  readonly cert: string;
  readonly key: string;
}

let made: BedTls | undefined;
const tlsHosts = new Set<string>();

/** The bed's CA and server certificate, made on first use. */
export function bedTls(): BedTls {
  if (made) return made;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'byoc-tls-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  const file = (name: string) => path.join(dir, name);
  const openssl = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '2', '-subj', '/CN=cdk-byoc-artifacts test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  openssl(['req', ...ec, '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=127.0.0.1']);
  fs.writeFileSync(file('server.ext'), 'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n');
  openssl(['x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial',
    '-out', file('server.crt'), '-days', '2', '-extfile', file('server.ext')]);
  const certDir = file('certs.d');
  fs.mkdirSync(certDir);
  fs.copyFileSync(file('ca.pem'), path.join(certDir, 'ca.crt'));
  made = {
    ca: fs.readFileSync(file('ca.pem'), 'utf8'),
    certDir,
    certFile: file('server.crt'),
    keyFile: file('server.key'),
    cert: fs.readFileSync(file('server.crt'), 'utf8'),
    key: fs.readFileSync(file('server.key'), 'utf8'),
  };
  return made;
}

/** Records that `host` (`127.0.0.1:PORT`, `localhost:PORT`) speaks HTTPS. */
export function registerTlsHost(host: string): void {
  tlsHosts.add(host);
}

/**
 * The engine's routes for the bed over HTTPS: trust the bed's CA, and speak plain HTTP only to
 * loopback hosts that no TLS listener of the bed holds (token servers).
 */
export function tlsRoutes(): { plainHttp: (host: string) => boolean; ca: string[] } {
  return { plainHttp: (host) => isLoopbackHost(host) && !tlsHosts.has(host), ca: [bedTls().ca] };
}

/** Forgets a host whose listener stopped (its port may serve plain HTTP next). */
export function unregisterTlsHost(host: string): void {
  tlsHosts.delete(host);
}
