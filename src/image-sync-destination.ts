import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { ImageSyncProvider } from './image-sync-provider';
import { InstallRepository } from './install-repository';

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
