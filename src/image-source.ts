import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3_assets from 'aws-cdk-lib/aws-s3-assets';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { chartTag } from './artifacts/chart';
import { parseImageReference } from './image-reference';
import { Props, SourceKind, SourceKinds } from './image-sync-contract';
import type { ImageSyncProvider } from './image-sync-provider';
import { ArchiveSource, stageArchive } from './private/archive-sync';
import { ecrRepositoryUri, parseEcrRepositoryArn } from './private/ecr-names';
import { chartNameProblem, chartVersionProblem, HELM_REPOSITORY_URL_RULE, helmRepositoryUrlProblem } from './private/helm-source';
import { readLayoutSource } from './private/image-archive';
import { STS_ASSUME_ROLE_ACTIONS } from './private/perms';
import { checkDigest, checkExternalId, checkImageTag, checkRoleArn, isToken, ValidationProblems } from './private/validation';

/**
 * Which image of an ECR repository to copy.
 */
export interface EcrImageOptions {
  /**
   * The source tag. Also the default destination tag.
   *
   * @default - none; `tag` or `digest` is required
   */
  readonly tag?: string;

  /**
   * The source digest (`sha256:...`). Wins over `tag` when both are given: the copy is pinned.
   *
   * @default - the digest the tag points at when the sync runs
   */
  readonly digest?: string;
}

/**
 * Which image of a tenant repository to copy, and the access role that reaches it.
 */
export interface TenantEcrImageOptions extends EcrImageOptions {
  /**
   * The access role in the tenant account (an `EcrAccessRole`) that trusts this account and grants
   * pull on the repository, e.g. `iam.Role.fromRoleArn(this, 'TenantPull', arn, { mutable: false })`.
   *
   * The sync function may assume this role only (`sts:AssumeRole`, `sts:TagSession` on its ARN).
   */
  readonly accessRole: iam.IRole;

  /**
   * The external id the access role's trust policy requires.
   */
  readonly externalId: string;
}

/**
 * How to pull an image from a registry other than ECR.
 */
export interface RegistryImageOptions {
  /**
   * A Secrets Manager secret whose value is JSON `{ "username": "...", "password": "..." }`.
   *
   * The function may read only this secret; the password never leaves its memory.
   *
   * @default - anonymous pull
   */
  readonly credentials?: secretsmanager.ISecret;
}

/**
 * How to read a chart from a classic Helm repository.
 */
export interface HelmRepositoryChartOptions {
  /**
   * A Secrets Manager secret whose value is JSON `{ "username": "...", "password": "..." }`, sent
   * as Basic credentials to the repository's own origin only (never to an archive elsewhere).
   *
   * The function may read only this secret; the password never leaves its memory.
   *
   * @default - anonymous
   */
  readonly credentials?: secretsmanager.ISecret;

  /**
   * The digest (`sha256:...`) the chart's OCI manifest must have, as `cdk-byoc-artifacts chart
   * import` prints it: when the repository serves another archive (or another `created` time) for
   * the version, the release fails and nothing is pushed.
   *
   * @default - any archive that matches the index's sha256
   */
  readonly expectedDigest?: string;
}

/**
 * Which image of an OCI image layout to sync.
 */
export interface OciLayoutImageOptions {
  /**
   * The image's name in the layout's `index.json` (its `org.opencontainers.image.ref.name`
   * annotation, e.g. `1.27` as `docker save` writes it, or `v1.2.3` as `skopeo copy ...
   * oci:DIR:v1.2.3` does). Also the default destination tag, when it is a valid tag.
   *
   * @default - the only image of the layout; synth fails when it has several
   */
  readonly ref?: string;
}

/**
 * The image an `ImageSync` copies. Create one with a static factory.
 */
export class ImageSource {
  /**
   * An image in a tenant account's ECR, pulled through a cross-account access role
   * (an `EcrAccessRole`) with a 15-minute session limited to the one repository.
   *
   * @param repository the tenant repository, e.g. `ecr.Repository.fromRepositoryArn(this, 'Tenant',
   * 'arn:aws:ecr:eu-west-1:111111111111:repository/acme/component')`: a literal ARN gives the
   * registry of its own account and Region, whatever this stack's
   */
  public static fromTenantEcr(repository: ecr.IRepository, options: TenantEcrImageOptions): ImageSource {
    const p = new ValidationProblems('ImageSource.fromTenantEcr');
    checkTagOrDigest(p, options.tag, options.digest);
    if (options.accessRole === undefined) {
      p.add('accessRole', undefined, 'the tenant\'s access role, e.g. iam.Role.fromRoleArn(scope, id, arn, { mutable: false })');
    } else {
      checkRoleArn(p, 'accessRole', options.accessRole.roleArn);
    }
    if (options.externalId === undefined) {
      p.add('externalId', undefined, 'the external id of the access role is required');
    } else {
      checkExternalId(p, 'externalId', options.externalId);
    }
    const arn = repository?.repositoryArn;
    const parts = arn === undefined || isToken(arn) ? undefined : parseEcrRepositoryArn(arn);
    if (repository === undefined) {
      p.add('repository', undefined, 'the tenant repository, e.g. ecr.Repository.fromRepositoryArn(scope, id, arn)');
    } else if (!isToken(arn) && parts === undefined) {
      p.add('repository', arn, 'an ECR repository, ARN arn:<partition>:ecr:<region>:<account>:repository/<name>');
    }
    p.throwIfAny();

    // A literal ARN names the tenant's account and Region: the registry host is derived from it, not
    // from this stack (an imported repository's URI would use the stack's URL suffix token).
    const uri = parts ? ecrRepositoryUri(parts) : repository.repositoryUri;
    return new ImageSource({
      kind: SourceKinds.TENANT_ECR,
      image: options.digest ? `${uri}@${options.digest}` : `${uri}:${options.tag}`,
      tag: options.tag,
      digest: options.digest,
      repositoryArn: arn,
      accessRole: options.accessRole,
      externalId: options.externalId,
    });
  }

  /**
   * An image in an ECR repository the sync function may pull from: its role is granted pull.
   * A repository of another account must allow this account in its repository policy
   * (`TenantRepository.grantCrossAccountPull`); otherwise use `fromTenantEcr`.
   */
  public static fromEcr(repository: ecr.IRepository, options: EcrImageOptions): ImageSource {
    const p = new ValidationProblems('ImageSource.fromEcr');
    checkTagOrDigest(p, options.tag, options.digest);
    p.throwIfAny();
    return new ImageSource({
      kind: SourceKinds.ECR,
      image: options.digest ? repository.repositoryUriForDigest(options.digest) : repository.repositoryUriForTag(options.tag),
      tag: options.tag,
      digest: options.digest,
      repository,
    });
  }

  /**
   * An image in any other OCI registry (`docker.io/library/nginx:1.27`, `ghcr.io/org/app@sha256:...`,
   * `public.ecr.aws/...`), anonymous or with credentials from Secrets Manager.
   *
   * @param reference `host[:port]/repository:tag` or `host[:port]/repository@sha256:...`; when it is
   * a token, give the `ImageSync` a `tag`
   */
  public static fromRegistry(reference: string, options: RegistryImageOptions = {}): ImageSource {
    const p = new ValidationProblems('ImageSource.fromRegistry');
    let tag: string | undefined;
    let digest: string | undefined;
    // A token (a parameter, an import) is checked by the handler at deploy time; the ImageSync then
    // needs an explicit tag, since the default destination tag is read from the reference here.
    if (!isToken(reference)) {
      try {
        const ref = parseImageReference(reference);
        tag = ref.tag;
        digest = ref.digest;
        if (!ref.tag && !ref.digest) {
          p.add('reference', reference, 'a reference with a tag or a digest, e.g. "ghcr.io/acme/app:1.2.3"');
        }
      } catch (e) {
        p.add('reference', reference, `a reference host[:port]/repository[:tag][@digest] (${(e as Error).message})`);
      }
    }
    p.throwIfAny();
    return new ImageSource({ kind: SourceKinds.REGISTRY, image: reference, tag, digest, secret: options.credentials });
  }

  /**
   * A chart version of a classic Helm repository (the `index.yaml` kind, as in `helm repo add`),
   * pushed as Helm's OCI chart artifact. At deploy time the sync function reads the index (at most
   * 64 MiB), downloads the version's archive (at most 32 MiB), checks it against the index's
   * sha256 and pushes the archive's bytes unchanged, with `created` from the index entry: the
   * digest is the one `cdk-byoc-artifacts chart import` gives. A mismatch pushes nothing.
   *
   * The default destination tag is the version with `+` as `_` (Helm's rule).
   *
   * @param repositoryUrl `https://...` (plain `http://` only for a loopback host); never a
   * link-local or metadata address
   * @param chart the chart's name in the index
   * @param version the chart version, exactly as the index lists it (a semantic version)
   */
  public static fromHelmRepository(repositoryUrl: string, chart: string, version: string, options: HelmRepositoryChartOptions = {}): ImageSource {
    const p = new ValidationProblems('ImageSource.fromHelmRepository');
    const literal = (value: unknown): value is string => typeof value === 'string' && !isToken(value);
    const urlProblem = literal(repositoryUrl) ? helmRepositoryUrlProblem(repositoryUrl) : undefined;
    if (repositoryUrl === undefined || urlProblem !== undefined) {
      p.add('repositoryUrl', repositoryUrl, `${HELM_REPOSITORY_URL_RULE}${urlProblem ? ` (${urlProblem})` : ''}`);
    }
    const chartProblem = literal(chart) ? chartNameProblem(chart) : undefined;
    if (chart === undefined || chartProblem !== undefined) {
      p.add('chart', chart, chartProblem ?? 'the chart\'s name in the index');
    }
    const versionProblem = literal(version) ? chartVersionProblem(version) : undefined;
    if (version === undefined || versionProblem !== undefined) {
      p.add('version', version, versionProblem ?? 'the chart version');
    }
    if (options.expectedDigest !== undefined) {
      checkDigest(p, 'expectedDigest', options.expectedDigest);
    }
    p.throwIfAny();
    return new ImageSource({
      kind: SourceKinds.HELM_REPOSITORY,
      tag: literal(version) ? chartTag(version) : undefined,
      helm: { repositoryUrl, chart, version },
      expectedDigest: options.expectedDigest,
      secret: options.credentials,
    });
  }

  /**
   * An image from an OCI image layout directory, for installs that cannot reach the tenant
   * registry. At synth the layout's `index.json` is read, the image chosen, and every manifest
   * and blob checked; the image alone becomes a file asset (an `oci-archive`, at most 256 MiB,
   * published with the stack's other assets, e.g. by `CustomerReadySynthesizer`) and its manifest
   * digest is recorded. At deploy the sync function reads that one object, checks every digest
   * against the recorded one and pushes the image: a tampered asset pushes nothing.
   *
   * Single images and multi-platform indexes (OCI or Docker schema 2) are pushed as they are, with
   * the layout's digest; choose the platforms when the layout is made. `docker save` of Docker 25
   * or later writes such a layout (as a tar: use `fromOciArchive`).
   *
   * @param directory the layout directory (`oci-layout`, `index.json`, `blobs/sha256/`)
   */
  public static fromOciLayout(directory: string, options: OciLayoutImageOptions = {}): ImageSource {
    return ImageSource.fromLayout('ImageSource.fromOciLayout', 'directory', directory, options);
  }

  /**
   * An image from an `oci-archive`: an OCI image layout as one tar file (optionally gzipped),
   * as `skopeo copy ... oci-archive:FILE`, `docker save` (Docker 25 or later) or `buildx
   * --output type=oci` write it. Read, checked and shipped as `fromOciLayout` does.
   *
   * @param file the archive
   */
  public static fromOciArchive(file: string, options: OciLayoutImageOptions = {}): ImageSource {
    return ImageSource.fromLayout('ImageSource.fromOciArchive', 'archive', file, options);
  }

  private static fromLayout(factory: string, kind: 'directory' | 'archive', where: string, options: OciLayoutImageOptions): ImageSource {
    const image = readLayoutSource(factory, kind, where, options.ref);
    return new ImageSource({ kind: SourceKinds.OCI_ARCHIVE, tag: image.tag, expectedDigest: image.artifact.digest, archive: image.archive });
  }

  private constructor(private readonly config: SourceConfig) {}

  /**
   * The tag the destination uses when `ImageSyncProps.tag` is not given.
   *
   * @internal
   */
  public get _defaultTag(): string | undefined {
    return this.config.tag;
  }

  /**
   * True when the source names its image by digest (the copy is pinned by the reference itself).
   *
   * @internal
   */
  public get _byDigest(): boolean {
    return this.config.digest !== undefined || this.config.expectedDigest !== undefined;
  }

  /**
   * What kind of source this is, for the checks of the constructs that take one.
   *
   * @internal
   */
  public get _kind(): SourceKind {
    return this.config.kind;
  }

  /**
   * Grants the provider's function what it needs to read this source and returns the resource
   * properties.
   *
   * @internal
   */
  public _bind(provider: ImageSyncProvider, scope: Construct): { [key: string]: string } {
    const c = this.config;
    if (c.archive !== undefined) {
      // The image alone, as a file asset of the stack: the function may read that object only.
      const asset = new s3_assets.Asset(scope, 'Archive', { path: stageArchive(c.archive) });
      return { ...new ArchiveSource(asset)._bind(provider), [Props.EXPECTED_SOURCE_DIGEST]: c.expectedDigest! };
    }
    const fn = provider.function;
    const properties: { [key: string]: string } = { [Props.SOURCE_KIND]: c.kind };
    if (c.image !== undefined) {
      properties[Props.SOURCE_IMAGE] = c.image;
    }
    if (c.expectedDigest !== undefined) {
      properties[Props.EXPECTED_SOURCE_DIGEST] = c.expectedDigest;
    }
    switch (c.kind) {
      case SourceKinds.TENANT_ECR:
        // The session policy (passed on AssumeRole) narrows the role to pull on this repository;
        // the function itself may only assume the named role, tagging the session with the release id.
        fn.addToRolePolicy(new iam.PolicyStatement({ actions: STS_ASSUME_ROLE_ACTIONS, resources: [c.accessRole!.roleArn] }));
        properties[Props.SOURCE_REPOSITORY_ARN] = c.repositoryArn!;
        properties[Props.ACCESS_ROLE_ARN] = c.accessRole!.roleArn;
        properties[Props.EXTERNAL_ID] = c.externalId!;
        break;
      case SourceKinds.ECR:
        c.repository!.grantPull(fn);
        break;
      case SourceKinds.HELM_REPOSITORY:
        properties[Props.HELM_REPOSITORY_URL] = c.helm!.repositoryUrl;
        properties[Props.HELM_CHART] = c.helm!.chart;
        properties[Props.HELM_CHART_VERSION] = c.helm!.version;
        if (c.secret) {
          c.secret.grantRead(fn);
          properties[Props.CREDENTIALS_SECRET_ARN] = c.secret.secretArn;
          provider._useSecretsManager();
        }
        break;
      case SourceKinds.REGISTRY:
        if (c.secret) {
          c.secret.grantRead(fn);
          properties[Props.CREDENTIALS_SECRET_ARN] = c.secret.secretArn;
          provider._useSecretsManager();
        }
        break;
    }
    return properties;
  }
}

interface SourceConfig {
  readonly kind: SourceKind;
  /** The source reference; absent for sources that are not in a registry. */
  readonly image?: string;
  /** Helm repository: where the chart is. */
  readonly helm?: { readonly repositoryUrl: string; readonly chart: string; readonly version: string };
  /** The digest the source's artifact must have (a pin the handler checks). */
  readonly expectedDigest?: string;
  /** OCI layout: the image alone as an `oci-archive`, shipped as a file asset. */
  readonly archive?: Buffer;
  readonly tag?: string;
  /** The digest the reference pins, when it names one. */
  readonly digest?: string;
  readonly repositoryArn?: string;
  readonly accessRole?: iam.IRole;
  readonly externalId?: string;
  readonly repository?: ecr.IRepository;
  readonly secret?: secretsmanager.ISecret;
}

function checkTagOrDigest(p: ValidationProblems, tag: string | undefined, digest: string | undefined): void {
  if (tag === undefined && digest === undefined) {
    p.add('tag', undefined, 'a tag or a digest of the source image');
  }
  if (tag !== undefined) {
    checkImageTag(p, 'tag', tag);
  }
  if (digest !== undefined) {
    checkDigest(p, 'digest', digest);
  }
}
