import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import type { ImageSyncProvider } from './image-sync-provider';
import { InstallRepository } from './install-repository';
import { familyPattern } from './private/release-family';

/** The release families claimed in each destination repository: component to the claiming sync's path. */
const FAMILIES = new WeakMap<ecr.IRepository, Map<string, string>>();

/**
 * The repository an `ImageSync` writes to. Create one with a static factory; the names pair up
 * with `ImageSource`'s (`ImageSource.fromEcr` / `ImageSyncDestination.fromEcr`).
 */
export class ImageSyncDestination {
  /**
   * An `InstallRepository`: the sync function becomes one of its writers, the only principals its
   * repository policy lets push or delete images.
   */
  public static fromInstallRepository(repository: InstallRepository): ImageSyncDestination {
    return new ImageSyncDestination(repository);
  }

  /**
   * Any ECR repository: the sync function is granted pull and push on it.
   *
   * An `InstallRepository`, or its inner `repository`, is recognised and used as with
   * `fromInstallRepository`: granting push on the inner repository alone would leave the
   * function denied by the install repository's policy.
   */
  public static fromEcr(repository: ecr.IRepository): ImageSyncDestination {
    return new ImageSyncDestination(InstallRepository._of(repository) ?? repository);
  }

  private constructor(
    /** The destination repository. */
    public readonly repository: ecr.IRepository,
  ) {}

  /**
   * Grants pull on the destination repository.
   */
  public grantPull(grantee: iam.IGrantable): iam.Grant {
    return this.repository.grantPull(grantee);
  }

  /**
   * The problem with `sync` writing the release family `component` here, naming both syncs, when
   * another sync already owns the family in the destination repository.
   *
   * @internal
   */
  public _familyConflict(sync: Construct, component: string): string | undefined {
    const owner = FAMILIES.get(this.repository)?.get(component);
    if (owner === undefined) {
      return undefined;
    }
    return `a release family of its own: ${owner} already writes the tags ${familyPattern(component)} into the destination `
      + `repository ${this.repository.node.path}, so both would write the same tags; give ${sync.node.path} or ${owner} `
      + 'another component';
  }

  /**
   * Claims the release family `component` in the destination repository for `sync`, which writes
   * `destinationTag`. An `InstallRepository` also learns the live release, which its lifecycle
   * policy protects.
   *
   * @internal
   */
  public _claimFamily(sync: Construct, component: string, destinationTag: string): void {
    const families = FAMILIES.get(this.repository) ?? new Map<string, string>();
    FAMILIES.set(this.repository, families);
    families.set(component, sync.node.path);
    InstallRepository._of(this.repository)?._addLiveRelease(component, destinationTag);
  }

  /**
   * Grants the provider's function what the copy needs: pull (it checks what the destination
   * already has), push, reading whether the repository's tags are immutable (an Update answered
   * from the destination needs no tenant), and with `removeOnDelete` what the opt-in removal needs.
   *
   * @internal
   */
  public _bind(provider: ImageSyncProvider, removeOnDelete: boolean): void {
    this.repository.grantPullPush(provider.function);
    this.repository.grant(provider.function, 'ecr:DescribeRepositories');
    if (removeOnDelete) {
      // One BatchDeleteImage names the tag and its digest: ECR refuses a tag that has moved.
      this.repository.grant(provider.function, 'ecr:BatchDeleteImage');
    }
  }
}
