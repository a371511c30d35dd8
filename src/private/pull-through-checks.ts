/**
 * Synth-time checks of pull-through cache rules: ECR's prefix grammar and the sharp edges of the
 * credential secret (its name prefix, and its JSON keys when the secret is defined in the app).
 */
import { Stack } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { isToken, ValidationProblems } from './validation';

/** ECR only lets a pull-through cache rule read secrets whose name starts with this. */
export const PULL_THROUGH_SECRET_PREFIX = 'ecr-pullthroughcache/';

/** The keys ECR reads from a pull-through cache secret. */
export const PULL_THROUGH_SECRET_KEYS = ['username', 'accessToken'];

// ECR's grammar of a cache (and upstream) repository prefix, 2-30 characters; a trailing '/' is implied.
const PREFIX = /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/;

/**
 * Prefixes a rule may not take: `ROOT` makes the rule (and its creation template) apply to every
 * repository of the registry that no other rule claims, the tenant's own component repositories
 * included.
 */
export const RESERVED_PREFIXES = ['ROOT'];

/** A repository prefix of a pull-through cache rule. */
export function checkPullThroughPrefix(p: ValidationProblems, prop: string, value: string): void {
  if (value === undefined || isToken(value)) return;
  if (typeof value === 'string' && RESERVED_PREFIXES.includes(value)) {
    p.add(prop, value, `a namespace of its own: ${value} would cache every repository of the registry that no other rule claims, the tenant's own included`);
    return;
  }
  const bare = typeof value === 'string' ? value.replace(/\/$/, '') : value;
  if (typeof bare !== 'string' || bare.length < 2 || bare.length > 30 || !PREFIX.test(bare)) {
    p.add(prop, value, '2-30 characters of lowercase letters and digits joined by ".", "_" or "-", namespaces separated by "/", e.g. "docker-hub"');
  }
}

/**
 * The secret of an upstream that needs credentials: given, named `ecr-pullthroughcache/...`
 * (checked on the name, and on a literal ARN), and when it is defined in this app, holding the
 * keys ECR reads.
 */
export function checkUpstreamSecret(p: ValidationProblems, prop: string, secret: secretsmanager.ISecret | undefined): void {
  if (secret === undefined) {
    p.add(prop, undefined, `a Secrets Manager secret named ${PULL_THROUGH_SECRET_PREFIX}<name> holding {"username","accessToken"}: this upstream needs credentials`);
    return;
  }
  const name = secret.secretName;
  const arn = secret.secretArn;
  if (!isToken(name) && !name.startsWith(PULL_THROUGH_SECRET_PREFIX)) {
    p.add(`${prop}.secretName`, name, `a name starting with "${PULL_THROUGH_SECRET_PREFIX}": ECR refuses any other secret for a pull-through cache rule`);
  } else if (!isToken(arn) && !arn.includes(`:secret:${PULL_THROUGH_SECRET_PREFIX}`)) {
    p.add(`${prop}.secretArn`, arn, `the ARN of a secret named "${PULL_THROUGH_SECRET_PREFIX}<name>": ECR refuses any other secret for a pull-through cache rule`);
  }
  const keys = definedSecretKeys(secret);
  const missing = keys === undefined ? [] : PULL_THROUGH_SECRET_KEYS.filter((k) => !keys.includes(k));
  if (missing.length > 0) {
    p.add(`${prop}.secretValue`, `keys ${JSON.stringify(keys)}`,
      `JSON with the keys ${PULL_THROUGH_SECRET_KEYS.map((k) => `"${k}"`).join(' and ')} (missing ${missing.join(', ')}): ECR reads the upstream login from these`);
  }
}

/**
 * The JSON keys of a secret defined in this app, when they can be told at synth: the template and
 * generated key of `generateSecretString`, or a literal JSON value. Undefined otherwise (an imported
 * secret, a token, a plain string is reported as no keys).
 */
function definedSecretKeys(secret: secretsmanager.ISecret): string[] | undefined {
  if (!(secret instanceof secretsmanager.Secret)) return undefined;
  const cfn = secret.node.defaultChild as secretsmanager.CfnSecret | undefined;
  if (cfn === undefined) return undefined;
  const generate = Stack.of(secret).resolve(cfn.generateSecretString) as secretsmanager.CfnSecret.GenerateSecretStringProperty | undefined;
  if (generate !== undefined) {
    if (typeof generate.secretStringTemplate !== 'string' || generate.generateStringKey === undefined) {
      return [];
    }
    const template = parseObject(generate.secretStringTemplate);
    return [...Object.keys(template ?? {}), generate.generateStringKey];
  }
  const value = Stack.of(secret).resolve(cfn.secretString);
  if (typeof value !== 'string') return undefined;
  const parsed = parseObject(value);
  return parsed === undefined ? [] : Object.keys(parsed);
}

function parseObject(text: string): { [key: string]: unknown } | undefined {
  try {
    const value = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}
