import { Annotations, Lazy } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import { Construct } from 'constructs';
import { LifecyclePolicy } from './policy';

/**
 * Renders the policy `current()` returns into the repository's `LifecyclePolicy` property when the
 * template is synthesized (so rules added later are included), validates it at synth with every
 * problem reported, and warns about rules that can never act. `current()` returning undefined
 * leaves the repository without a lifecycle policy.
 *
 * @param owner the construct the validation errors and warnings belong to
 * @param construct the construct's name in messages, e.g. 'InstallRepository'
 */
export function attachLifecyclePolicy(
  owner: Construct,
  construct: string,
  repository: ecr.CfnRepository,
  current: () => LifecyclePolicy | undefined,
): void {
  repository.lifecyclePolicy = Lazy.any({
    produce: () => {
      const policy = current();
      // An invalid policy renders nothing: the validation below reports every problem at synth.
      if (!policy || policy.validate().length > 0) {
        return undefined;
      }
      return { lifecyclePolicyText: policy.renderPolicyText() };
    },
  });
  owner.node.addValidation({
    validate: () => {
      const policy = current();
      if (!policy) {
        return [];
      }
      for (const warning of policy.warnings()) {
        Annotations.of(owner).addWarningV2('cdk-byoc-artifacts:lifecycleRuleNeverActs', `Lifecycle rule ${warning}`);
      }
      return policy.validate().map((e) => `Invalid ${construct} lifecycle policy: ${e}`);
    },
  });
}
