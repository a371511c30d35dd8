/**
 * The fan-out simulation: N installs sync one release from one tenant registry at once (or in
 * waves), each through the ImageSync handler as the Lambda runs it, while a throttling front
 * enforces ECR's pull quotas (scaled down) on the tenant registry. See docs/scaling.md.
 *
 * Run: npm run simulate -- --installs N [--json] [--waves W] [--wave-interval S] [--scale F]
 *      npm run simulate -- --model   (the capacity tables of docs/scaling.md)
 *
 * Exits 0 only when every sync succeeded, every destination tag holds the release's digest with
 * every manifest and blob under it, and each sync's requests match the model.
 */
import { DEFAULT_SCALE, FanoutResult, modelMismatches, runFanout } from '../test/support/fanout';
import { BURST_SECONDS, RELEASE, RELEASE_BLOBS, RELEASE_MANIFESTS, renderInstallTable, renderTenantTable } from '../test/support/fanout-model';
import { stopAll } from '../test/support/registry';

const USAGE = 'usage: npm run simulate -- --installs N [--json] [--waves W] [--wave-interval SECONDS] [--scale F] [--burst-seconds S] [--poll-interval SECONDS]\n' +
  '       npm run simulate -- --model';

interface Args {
  installs: number;
  json: boolean;
  model: boolean;
  waves: number;
  waveInterval: number;
  scale: number;
  pollInterval: number;
  burstSeconds: number;
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    installs: 0, json: false, model: false, waves: 1, waveInterval: 0, scale: DEFAULT_SCALE, pollInterval: 10, burstSeconds: BURST_SECONDS,
  };
  const number = (flag: string, value: string | undefined, min: number, integer: boolean): number => {
    const n = Number(value);
    if (value === undefined || !Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) {
      throw new Error(`${flag} ${JSON.stringify(value ?? '')} is not allowed: ${integer ? 'an integer' : 'a number'} of at least ${min}\n${USAGE}`);
    }
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    switch (flag) {
      case '--installs': args.installs = number(flag, argv[++i], 1, true); break;
      case '--waves': args.waves = number(flag, argv[++i], 1, true); break;
      case '--wave-interval': args.waveInterval = number(flag, argv[++i], 0, false); break;
      case '--scale': args.scale = number(flag, argv[++i], 1, false); break;
      case '--poll-interval': args.pollInterval = number(flag, argv[++i], 0.1, false); break;
      case '--burst-seconds': args.burstSeconds = number(flag, argv[++i], 0, false); break;
      case '--json': args.json = true; break;
      case '--model': args.model = true; break;
      default: throw new Error(`unknown argument ${JSON.stringify(flag)}\n${USAGE}`);
    }
  }
  if (!args.model && args.installs === 0) throw new Error(`--installs is required\n${USAGE}`);
  return args;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (args.model) {
    console.log(renderTenantTable());
    console.log();
    console.log(renderInstallTable());
    return 0;
  }
  const err = (line: string) => process.stderr.write(`${line}\n`);
  err(`release: ${RELEASE_MANIFESTS - 1}-platform OCI index (${RELEASE.platforms.join(', ')}), ${RELEASE.layerBytes.length} layers and a config per platform: ` +
    `${RELEASE_MANIFESTS} manifests, ${RELEASE_BLOBS} blobs; no SBOM or attestation; referrers on, the tenant with the referrers API`);
  err(`installs: ${args.installs} in ${args.waves} wave(s)${args.waves > 1 ? `, ${args.waveInterval} s apart` : ''}; ` +
    `each its own handler, pull session and repository on one destination registry; isComplete every ${args.pollInterval} s`);
  const result = await runFanout({
    installs: args.installs,
    waves: args.waves,
    waveIntervalSeconds: args.waveInterval,
    scale: args.scale,
    burstSeconds: args.burstSeconds,
    pollIntervalMs: args.pollInterval * 1000,
  });
  const mismatches = modelMismatches(result);
  if (args.json) {
    const { installs, succeeded, failed, seconds, p50Seconds, p99Seconds, throttled, requests } = result;
    console.log(JSON.stringify({ installs, succeeded, failed, seconds, p50Seconds, p99Seconds, throttled, requests }));
  } else {
    report(result);
  }
  for (const s of result.syncs.filter((x) => !x.ok)) err(`FAILED ${s.install}: ${s.error}`);
  for (const f of result.checkFailures) err(`CHECK FAILED ${f}`);
  for (const m of mismatches.slice(0, 20)) err(`MODEL MISMATCH ${m}`);
  const ok = result.failed === 0 && result.checkFailures.length === 0 && mismatches.length === 0;
  err(ok ? 'ok: every sync succeeded, every tag holds the whole release, the requests match the model'
    : `not ok: ${result.failed} failed syncs, ${result.checkFailures.length} failed checks, ${mismatches.length} model mismatches`);
  return ok ? 0 : 1;
}

function report(r: FanoutResult): void {
  const resumed = r.syncs.filter((s) => s.polls > 1).length;
  const lines = [
    `scale: ECR and STS quotas divided by ${r.scale}; limits enforced (requests/s, bucket): ` +
      Object.entries(r.limits).map(([api, l]) => `${api} ${+l.perSecond.toFixed(2)}/${+(l.burst ?? l.perSecond).toFixed(1)}`).join(', '),
    `installs:   ${r.installs}`,
    `succeeded:  ${r.succeeded}`,
    `failed:     ${r.failed}`,
    `wall time:  ${r.seconds} s`,
    `sync time:  p50 ${r.p50Seconds} s, p99 ${r.p99Seconds} s`,
    `resumed:    ${resumed} syncs needed more than one isComplete poll`,
    `throttled:  ${r.throttled} (${Object.entries(r.throttledByApi).map(([api, n]) => `${api} ${n}`).join(', ') || 'none'})`,
    'requests by API (admitted):',
    ...Object.entries(r.requests).map(([api, n]) => `  ${api.padEnd(38)} ${String(n).padStart(7)}  (${(n / r.installs).toFixed(2)} per sync)`),
  ];
  console.log(lines.join('\n'));
}

main().then(
  async (code) => {
    await stopAll();
    process.exit(code);
  },
  async (e) => {
    process.stderr.write(`${(e as Error).message}\n`);
    await stopAll();
    process.exit(2);
  },
);
