/**
 * A consumer app written only against the installed package's public API. scripts/consumer-smoke.sh
 * installs the packed package into a fresh directory with this app, type-checks it strictly and
 * synthesizes it: the tenant stack, the install stack for `cdk deploy` (bootstrapped account), and
 * the same install stack as a customer-ready template (no bootstrap).
 */
import { App } from 'aws-cdk-lib';
import { INSTALL_ENV, InstallStack } from './install-stack';
import { TENANT_ENV, TenantStack } from './tenant-stack';
import { CustomerReadySynthesizer } from 'cdk-byoc-artifacts';

const app = new App();
new TenantStack(app, 'ByocTenant', { env: TENANT_ENV });
new InstallStack(app, 'ByocInstall', { env: INSTALL_ENV, componentTag: '1.0.0' });
new InstallStack(app, 'ByocInstallCustomerReady', {
  componentTag: '1.0.0',
  synthesizer: new CustomerReadySynthesizer({
    fileAssetsBucketName: 'acme-byoc-assets-${AWS::Region}',
    fileAssetsKeyPrefix: 'byoc/install/',
  }),
});
app.synth();
