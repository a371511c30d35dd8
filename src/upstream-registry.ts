import { Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { checkPullThroughPrefix, checkUpstreamSecret } from './private/pull-through-checks';
import { checkAccountId, isToken, ValidationProblems } from './private/validation';

/**
 * Options of {@link UpstreamRegistry.ecr}: another Amazon ECR private registry as the upstream.
 */
export interface EcrUpstreamOptions {
  /** The upstream registry's account (12 digits). */
  readonly account: string;

  /** The upstream registry's Region, e.g. `eu-west-1`. */
  readonly region: string;

  /**
   * The role ECR assumes to pull from the upstream registry: it must trust the
   * `pullthroughcache.ecr.amazonaws.com` service and be in this stack's account. The upstream
   * registry's owner must also allow this account to pull in its registry or repository policies.
   *
   * @default - the `PullThroughCache` creates one, allowed to pull the upstream repositories
   * under `upstreamRepositoryPrefix` and to write the cached repositories, when `account` is
   * another account; none when it is this stack's account (ECR needs no role there)
   */
  readonly role?: iam.IRole;

  /**
   * Only upstream repositories under this namespace are cached: the cache repository
   * `<repositoryPrefix>/<name>` maps to the upstream `<upstreamRepositoryPrefix>/<name>`.
   * Same grammar as the cache's `repositoryPrefix`.
   *
   * @default - every upstream repository (ECR's `ROOT`)
   */
  readonly upstreamRepositoryPrefix?: string;
}

/** What each kind of upstream is, for validation and rendering. */
interface UpstreamConfig {
  readonly kind: string;
  readonly url: string;
  readonly defaultPrefix: string;
  /** Rendered as `UpstreamRegistry`; undefined when ECR infers it from the URL. */
  readonly registryName?: string;
  readonly credentials?: secretsmanager.ISecret;
  readonly role?: iam.IRole;
  readonly ecrAccount?: string;
  readonly ecrRegion?: string;
  readonly upstreamRepositoryPrefix?: string;
}

// Azure registry names: 5-50 letters and digits (Azure's rule); ECR expects <name>.azurecr.io.
const AZURE_NAME = /^[a-zA-Z0-9]{5,50}$/;
const REGION = /^[a-z]{2}(?:-[a-z]+)+-\d$/;

/**
 * The registry a `PullThroughCache` caches, one static factory per upstream Amazon ECR supports.
 *
 * Upstreams that need credentials (Docker Hub, GitHub Container Registry, GitLab Container
 * Registry, Azure Container Registry, Chainguard) take a Secrets Manager secret whose name starts
 * with `ecr-pullthroughcache/` (ECR refuses any other) and whose value is JSON
 * `{ "username": "...", "accessToken": "..." }`, in the cache's account and Region. Amazon ECR
 * Public, Quay and the Kubernetes registry are cached anonymously. Another ECR registry is reached
 * through an IAM role.
 */
export class UpstreamRegistry {
  /** Docker Hub (`registry-1.docker.io`). Official images live under `library/`, e.g. `library/nginx`. */
  public static dockerHub(credentials: secretsmanager.ISecret): UpstreamRegistry {
    return UpstreamRegistry.withSecret('UpstreamRegistry.dockerHub', credentials,
      { kind: 'docker-hub', url: 'registry-1.docker.io', defaultPrefix: 'docker-hub', registryName: 'docker-hub' });
  }

  /** GitHub Container Registry (`ghcr.io`), with a personal access token allowed to read packages. */
  public static githubContainerRegistry(credentials: secretsmanager.ISecret): UpstreamRegistry {
    return UpstreamRegistry.withSecret('UpstreamRegistry.githubContainerRegistry', credentials,
      { kind: 'github-container-registry', url: 'ghcr.io', defaultPrefix: 'ghcr', registryName: 'github-container-registry' });
  }

  /** GitLab Container Registry: gitlab.com only (`registry.gitlab.com`); ECR does not cache self-managed GitLab. */
  public static gitLabContainerRegistry(credentials: secretsmanager.ISecret): UpstreamRegistry {
    return UpstreamRegistry.withSecret('UpstreamRegistry.gitLabContainerRegistry', credentials,
      { kind: 'gitlab-container-registry', url: 'registry.gitlab.com', defaultPrefix: 'gitlab', registryName: 'gitlab-container-registry' });
  }

  /**
   * A Microsoft Azure Container Registry.
   *
   * @param registryName the registry's name (`myregistry`) or host (`myregistry.azurecr.io`)
   */
  public static azureContainerRegistry(registryName: string, credentials: secretsmanager.ISecret): UpstreamRegistry {
    const p = new ValidationProblems('UpstreamRegistry.azureContainerRegistry');
    let url = registryName;
    if (!isToken(registryName)) {
      const name = typeof registryName === 'string' ? registryName.replace(/\.azurecr\.io$/, '') : '';
      if (!AZURE_NAME.test(name)) {
        p.add('registryName', registryName, 'an Azure Container Registry name of 5-50 letters and digits, or its host <name>.azurecr.io');
      }
      url = `${name.toLowerCase()}.azurecr.io`;
    }
    checkUpstreamSecret(p, 'credentials', credentials);
    p.throwIfAny();
    return new UpstreamRegistry({ kind: 'azure-container-registry', url, defaultPrefix: 'azure', registryName: 'azure-container-registry', credentials });
  }

  /** Chainguard's registry (`cgr.dev`), with a pull token (its id as `username`, its secret as `accessToken`). */
  public static chainguard(credentials: secretsmanager.ISecret): UpstreamRegistry {
    // ECR infers the upstream from the URL; the UpstreamRegistry property is left out for it.
    return UpstreamRegistry.withSecret('UpstreamRegistry.chainguard', credentials,
      { kind: 'chainguard', url: 'cgr.dev', defaultPrefix: 'chainguard' });
  }

  /** Quay (`quay.io`), anonymous. */
  public static quay(): UpstreamRegistry {
    return new UpstreamRegistry({ kind: 'quay', url: 'quay.io', defaultPrefix: 'quay', registryName: 'quay' });
  }

  /** The Kubernetes project's registry (`registry.k8s.io`), anonymous. */
  public static kubernetes(): UpstreamRegistry {
    return new UpstreamRegistry({ kind: 'k8s', url: 'registry.k8s.io', defaultPrefix: 'k8s', registryName: 'k8s' });
  }

  /** Amazon ECR Public (`public.ecr.aws`), anonymous. */
  public static ecrPublic(): UpstreamRegistry {
    return new UpstreamRegistry({ kind: 'ecr-public', url: 'public.ecr.aws', defaultPrefix: 'ecr-public', registryName: 'ecr-public' });
  }

  /** Another Amazon ECR private registry (another account, another Region, or both). */
  public static ecr(options: EcrUpstreamOptions): UpstreamRegistry {
    const p = new ValidationProblems('UpstreamRegistry.ecr');
    checkAccountId(p, 'account', options.account);
    if (options.account === undefined) {
      p.add('account', undefined, 'the upstream registry\'s 12-digit account id');
    }
    if (options.region === undefined || (!isToken(options.region) && !REGION.test(options.region))) {
      p.add('region', options.region, 'an AWS Region such as "eu-west-1"');
    }
    if (options.upstreamRepositoryPrefix !== undefined) {
      checkPullThroughPrefix(p, 'upstreamRepositoryPrefix', options.upstreamRepositoryPrefix);
    }
    p.throwIfAny();
    // China Regions serve ECR under amazonaws.com.cn; every other partition under amazonaws.com.
    const suffix = !isToken(options.region) && options.region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
    return new UpstreamRegistry({
      kind: 'ecr',
      url: `${options.account}.dkr.ecr.${options.region}.${suffix}`,
      defaultPrefix: 'ecr',
      registryName: 'ecr',
      role: options.role,
      ecrAccount: options.account,
      ecrRegion: options.region,
      upstreamRepositoryPrefix: options.upstreamRepositoryPrefix,
    });
  }

  private static withSecret(factory: string, credentials: secretsmanager.ISecret, config: UpstreamConfig): UpstreamRegistry {
    const p = new ValidationProblems(factory);
    checkUpstreamSecret(p, 'credentials', credentials);
    p.throwIfAny();
    return new UpstreamRegistry({ ...config, credentials });
  }

  /** ECR's name of the upstream kind, e.g. `docker-hub`, `github-container-registry`, `ecr`. */
  public readonly kind: string;

  /** The upstream registry URL the rule names, e.g. `registry-1.docker.io`. */
  public readonly url: string;

  /** The cache's repository prefix unless the `PullThroughCache` names one, e.g. `docker-hub`. */
  public readonly defaultRepositoryPrefix: string;

  private constructor(private readonly config: UpstreamConfig) {
    this.kind = config.kind;
    this.url = config.url;
    this.defaultRepositoryPrefix = config.defaultPrefix;
  }

  /**
   * What the `PullThroughCache` needs to know of the upstream beyond its URL.
   *
   * @internal
   */
  public get _config(): UpstreamConfig {
    return this.config;
  }

  /**
   * True when the upstream is an ECR registry of another account than `account` (or either is
   * unknown at synth): ECR then needs a role to reach it.
   *
   * @internal
   */
  public _needsRole(account: string): boolean {
    const upstream = this.config.ecrAccount;
    if (upstream === undefined) {
      return false;
    }
    return Token.isUnresolved(upstream) || Token.isUnresolved(account) || upstream !== account;
  }
}
