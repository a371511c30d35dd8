/**
 * ECR's names: registry hosts, repository URIs and repository ARNs. The grammar is written once
 * here for the constructs' validation, the handler and the copy engine.
 *
 * Hosts: `<account>.dkr.ecr.<region>.amazonaws.com`, `.amazonaws.com.cn` in China, the FIPS
 * (`dkr.ecr-fips`) and dual-stack (`dkr-ecr.<region>.on.aws`) endpoints.
 */

/** The parts of an ECR repository. */
export interface EcrRepositoryParts {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
  /** The repository name, e.g. `acme/component`. */
  readonly name: string;
}

const HOST = /^([0-9]{12})\.dkr[.-]ecr(?:-fips)?\.([a-z0-9-]+)\.(amazonaws\.com(?:\.cn)?|on\.aws)$/;
const ARN = /^arn:(aws[a-z-]*):ecr:([a-z0-9-]+):([0-9]{12}):repository\/(.+)$/;
// ECR's repository names: 2-256 characters, lower-case components joined by '/', each of
// letters and digits separated by '.', '_', '__' or runs of '-'.
const NAME = /^(?=.{2,256}$)[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;

/** The account and region of an ECR registry host (a port is ignored); undefined for other hosts. */
export function parseEcrRegistry(registry: string): { account: string; region: string; partition: string } | undefined {
  const host = hostOnly(registry).toLowerCase();
  const match = HOST.exec(host);
  if (!match) {
    return undefined;
  }
  return { account: match[1], region: match[2], partition: partitionOf(match[2], match[3]) };
}

/** True for an ECR registry host. */
export function isEcrRegistry(registry: string): boolean {
  return parseEcrRegistry(registry) !== undefined;
}

/** True for a valid ECR repository name. */
export function isEcrRepositoryName(name: string): boolean {
  return NAME.test(name);
}

/** Parses `<registry host>/<name>`; undefined when it is not an ECR repository URI. */
export function parseEcrRepositoryUri(uri: string): EcrRepositoryParts | undefined {
  const slash = uri.indexOf('/');
  if (slash < 0) {
    return undefined;
  }
  const registry = parseEcrRegistry(uri.slice(0, slash));
  const name = uri.slice(slash + 1);
  if (!registry || uri.slice(0, slash).includes(':') || !NAME.test(name)) {
    return undefined;
  }
  return { partition: registry.partition, region: registry.region, account: registry.account, name };
}

/** Parses `arn:<partition>:ecr:<region>:<account>:repository/<name>`; undefined when it is not one. */
export function parseEcrRepositoryArn(arn: string): EcrRepositoryParts | undefined {
  const match = ARN.exec(arn);
  if (!match || !NAME.test(match[4])) {
    return undefined;
  }
  return { partition: match[1], region: match[2], account: match[3], name: match[4] };
}

/** The registry host of a repository: `<account>.dkr.ecr.<region>.amazonaws.com[.cn]`. */
export function ecrRegistryHost(parts: Pick<EcrRepositoryParts, 'partition' | 'region' | 'account'>): string {
  return `${parts.account}.dkr.ecr.${parts.region}.amazonaws.com${parts.partition === 'aws-cn' ? '.cn' : ''}`;
}

/** `<registry host>/<name>`. */
export function ecrRepositoryUri(parts: EcrRepositoryParts): string {
  return `${ecrRegistryHost(parts)}/${parts.name}`;
}

/** `arn:<partition>:ecr:<region>:<account>:repository/<name>`. */
export function ecrRepositoryArn(parts: EcrRepositoryParts): string {
  return `arn:${parts.partition}:ecr:${parts.region}:${parts.account}:repository/${parts.name}`;
}

function partitionOf(region: string, domain: string): string {
  if (domain === 'amazonaws.com.cn' || region.startsWith('cn-')) {
    return 'aws-cn';
  }
  return region.startsWith('us-gov-') ? 'aws-us-gov' : 'aws';
}

function hostOnly(registry: string): string {
  const colon = registry.lastIndexOf(':');
  return colon >= 0 && !registry.endsWith(']') ? registry.slice(0, colon) : registry;
}
