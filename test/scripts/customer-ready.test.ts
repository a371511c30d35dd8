import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { quickCreateUrl, STACK_NAME, synthCustomerReadyInstall, VENDOR_ASSETS_KEY_PREFIX, VENDOR_REGIONS } from '../../scripts/customer-ready';

describe('scripts/customer-ready', () => {
  let outdir: string;
  beforeAll(() => {
    outdir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'customer-ready-script-')), 'install-customer-ready');
  });
  afterAll(() => {
    fs.rmSync(path.dirname(outdir), { recursive: true, force: true });
  });

  test("writes the example install stack as a template with no bootstrap reference, its code in the vendor's buckets", () => {
    const result = synthCustomerReadyInstall(outdir);
    const template = JSON.parse(fs.readFileSync(result.templateFile, 'utf8'));
    const text = JSON.stringify(template);

    expect(result.templateFile).toBe(path.join(outdir, `${STACK_NAME}.template.json`));
    for (const bad of ['BootstrapVersion', 'CheckBootstrapVersion', 'hnb659fds', 'cdk-bootstrap', 'AWS::CDK::Metadata']) {
      expect(text).not.toContain(bad);
    }
    const codes = Object.values<any>(template.Resources).filter((r) => r.Type === 'AWS::Lambda::Function').map((r) => r.Properties.Code);
    expect(codes.length).toBeGreaterThan(0);
    for (const code of codes) {
      expect(code.S3Bucket).toEqual({ 'Fn::Sub': 'acme-byoc-assets-${AWS::Region}' });
      expect(result.objects.map((o) => o.objectKey)).toContain(code.S3Key);
    }
    expect(Object.values<any>(template.Resources).filter((r) => r.Type === 'Custom::ImageSync')).toHaveLength(3); // api, worker and proxy, as in examples/install-app.ts
  });

  test('lists every object to publish, the template included, and one bucket per supported region', () => {
    const result = synthCustomerReadyInstall(outdir);

    expect(result.templateObjectKey).toMatch(new RegExp(`^${VENDOR_ASSETS_KEY_PREFIX}[0-9a-f]{64}\\.json$`));
    expect(result.objects.map((o) => o.objectKey)).toContain(result.templateObjectKey);
    for (const o of result.objects) {
      expect(fs.existsSync(o.source)).toBe(true);
    }
    expect(result.buckets).toEqual(Object.fromEntries(VENDOR_REGIONS.map((r) => [r, `acme-byoc-assets-${r}`])));
    const report = JSON.parse(fs.readFileSync(path.join(outdir, 'validation-report.json'), 'utf8'));
    expect(report.pluginReports).toEqual([]);
  });

  test("builds a quick-create link to the template in the region's bucket, with stack name and parameters", () => {
    const url = quickCreateUrl('eu-west-1', 'acme-byoc-assets-eu-west-1', 'byoc/install/abc.json', 'ByocInstall', { ExternalId: 'acme-7f3c' });

    expect(url).toBe(
      'https://eu-west-1.console.aws.amazon.com/cloudformation/home?region=eu-west-1#/stacks/create/review' +
      '?templateURL=https%3A%2F%2Facme-byoc-assets-eu-west-1.s3.eu-west-1.amazonaws.com%2Fbyoc%2Finstall%2Fabc.json' +
      '&stackName=ByocInstall&param_ExternalId=acme-7f3c',
    );
  });
});
