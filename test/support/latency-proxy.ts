import * as net from 'net';

/**
 * A TCP proxy that adds round-trip time, as a registry in another region has: every chunk waits
 * `rttMs / 2` in each direction, in order, at full bandwidth. It forwards bytes untouched (TLS,
 * HTTP, keep-alive all pass through), so a client sees the registry as it is, only farther away.
 */
export interface LatencyProxy {
  /** '127.0.0.1:PORT' */
  readonly host: string;
  stop(): Promise<void>;
}

export async function startLatencyProxy(targetHost: string, rttMs: number): Promise<LatencyProxy> {
  const i = targetHost.lastIndexOf(':');
  const [hostname, port] = [targetHost.slice(0, i), Number(targetHost.slice(i + 1))];
  const oneWay = rttMs / 2;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: hostname, port, noDelay: true });
    client.setNoDelay(true);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    delay(client, upstream, oneWay);
    delay(upstream, client, oneWay);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  server.unref();
  return {
    host: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    stop: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

/** Forwards `from` to `to`, each chunk `ms` later than it came, in order; an end arrives after the last chunk. */
function delay(from: net.Socket, to: net.Socket, ms: number): void {
  let chain = Promise.resolve();
  const later = (fn: () => void) => {
    const due = Date.now() + ms;
    chain = chain.then(() => new Promise<void>((resolve) => setTimeout(() => {
      fn();
      resolve();
    }, Math.max(0, due - Date.now()))));
  };
  from.on('data', (chunk: Buffer) => later(() => {
    if (!to.destroyed) to.write(chunk);
  }));
  from.on('end', () => later(() => to.end()));
}
