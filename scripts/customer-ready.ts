/**
 * Synthesizes the example install app's stack as a customer-ready CloudFormation template: no CDK
 * bootstrap in the customer's account, Lambda code from the vendor's region-named buckets.
 *
 * Run alone (from the repository root; bundle the Lambda first with `npx projen bundle`):
 *   npx tsx scripts/customer-ready.ts [OUTDIR]
 * It writes OUTDIR (default cdk.out/install-customer-ready/): the template, the asset manifest
 * the vendor publishes with, and the assets; then prints where, what to publish and a
 * quick-create link. docs/delivery.md explains each step.
 */
import * as fs from 'fs';
import * as path from 'path';
import { App, AssetStaging, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { InstallStack } from '../examples/install-app';
import { COMPONENT_TAG } from '../examples/tenant-app';
import { CustomerReadySynthesizer } from '../src/customer-ready-synthesizer';

/** The example vendor's asset buckets: one per region, the same objects in each. */
export const VENDOR_ASSETS_BUCKET = 'acme-byoc-assets-${AWS::Region}';
/** Where in those buckets the install stack's assets live. */
export const VENDOR_ASSETS_KEY_PREFIX = 'byoc/install/';
/** The regions the example vendor supports. */
export const VENDOR_REGIONS = ['eu-west-1', 'us-east-1'];
/** The stack's name in the customer's account. */
export const STACK_NAME = 'ByocInstall';

/** One object the vendor publishes to every regional bucket. */
export interface PublishedObject {
  /** What it is (the asset's display name, or its source path). */
  readonly what: string;
  /** The file or directory under the output directory. */
  readonly source: string;
  /** The object key in each regional bucket. */
  readonly objectKey: string;
}

/** What {@link synthCustomerReadyInstall} wrote. */
export interface CustomerReadyInstall {
  /** The cloud assembly directory. */
  readonly outdir: string;
  /** The customer-ready CloudFormation template. */
  readonly templateFile: string;
  /** The asset manifest: `cdk-assets publish --path <this>` uploads every object to every region. */
  readonly assetManifestFile: string;
  /** The template's object key in each regional bucket. */
  readonly templateObjectKey: string;
  /** Every object to publish, the template included. */
  readonly objects: PublishedObject[];
  /** The regional bucket names, by region. */
  readonly buckets: Record<string, string>;
}

/** Synthesizes examples/install-app.ts's stack with the CustomerReadySynthesizer into `outdir`. */
export function synthCustomerReadyInstall(outdir: string = path.join('cdk.out', 'install-customer-ready')): CustomerReadyInstall {
  fs.rmSync(outdir, { recursive: true, force: true });
  // Assets staged earlier in this process would be taken as already present in the emptied outdir.
  AssetStaging.clearAssetHashCache();
  const app = new App({ outdir });
  Validations.of(app).addPlugins(new AwsSolutionsChecks());
  // No env: one template for every customer account and every supported region.
  new InstallStack(app, STACK_NAME, {
    description: 'cdk-byoc-artifacts example: install account (customer-ready template)',
    releaseId: `component-${COMPONENT_TAG}`,
    synthesizer: new CustomerReadySynthesizer({
      fileAssetsBucketName: VENDOR_ASSETS_BUCKET,
      fileAssetsKeyPrefix: VENDOR_ASSETS_KEY_PREFIX,
      regions: VENDOR_REGIONS,
    }),
  });
  const assembly = app.synth();
  const stack = assembly.getStackByName(STACK_NAME);
  const assetManifestFile = path.join(outdir, `${stack.id}.assets.json`);
  const manifest = JSON.parse(fs.readFileSync(assetManifestFile, 'utf8'));

  const objects: PublishedObject[] = Object.values<any>(manifest.files).map((file) => {
    const destination: any = Object.values(file.destinations)[0];
    return { what: file.displayName ?? file.source.path, source: path.join(outdir, file.source.path), objectKey: destination.objectKey };
  });
  const template = objects.find((o) => path.resolve(o.source) === path.resolve(stack.templateFullPath));
  if (!template) {
    throw new Error(`the asset manifest ${assetManifestFile} does not list the template ${stack.templateFullPath}: nothing to hand over`);
  }
  const buckets = Object.fromEntries(VENDOR_REGIONS.map((r) => [r, VENDOR_ASSETS_BUCKET.split('${AWS::Region}').join(r)]));
  return { outdir, templateFile: stack.templateFullPath, assetManifestFile, templateObjectKey: template.objectKey, objects, buckets };
}

/** The CloudFormation console's quick-create link for a template in a regional bucket. */
export function quickCreateUrl(
  region: string, bucket: string, objectKey: string, stackName: string, parameters: Record<string, string> = {},
): string {
  const templateUrl = `https://${bucket}.s3.${region}.amazonaws.com/${objectKey}`;
  const query = [
    `templateURL=${encodeURIComponent(templateUrl)}`,
    `stackName=${encodeURIComponent(stackName)}`,
    ...Object.entries(parameters).map(([k, v]) => `param_${encodeURIComponent(k)}=${encodeURIComponent(v)}`),
  ].join('&');
  return `https://${region}.console.aws.amazon.com/cloudformation/home?region=${region}#/stacks/create/review?${query}`;
}

if (require.main === module) {
  const result = synthCustomerReadyInstall(process.argv[2]);
  const [region, bucket] = Object.entries(result.buckets)[0];
  console.log(`customer-ready install template: ${result.templateFile}`);
  console.log(`asset manifest ${result.assetManifestFile} (publish with: npx cdk publish-assets --unstable=publish-assets --app ${result.outdir} ${STACK_NAME}, see docs/delivery.md):`);
  for (const o of result.objects) {
    console.log(`  ${o.objectKey}  <- ${o.source} (${o.what})`);
  }
  console.log(`to buckets: ${Object.values(result.buckets).join(', ')}`);
  console.log(`quick-create link (${region}): ${quickCreateUrl(region, bucket, result.templateObjectKey, STACK_NAME)}`);
}
