import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { ImageSyncProvider } from './image-sync-provider';
import type { InstallRepository } from './install-repository';

/**
 * The repository an `ImageSync` writes to. Create one with a static factory.
 */
export class ImageSyncDestination {
  /**
   * An `InstallRepository`: the sync function becomes one of its writers, the only principals its
   * repository policy lets push or delete images.
   */
  public static installRepository(repository: InstallRepository): ImageSyncDestination {
    return new ImageSyncDestination(repository.repository, (fn) => {
      repository.grantWrite(fn);
      // The copy checks what the destination already has (HEAD manifest, HEAD blob) before pushing.
      repository.grantPull(fn);
    }, (grantee) => repository.grantPull(grantee));
  }

  /**
   * Any ECR repository: the sync function is granted pull and push on it.
   */
  public static repository(repository: ecr.IRepository): ImageSyncDestination {
    return new ImageSyncDestination(repository, (fn) => {
      repository.grantPullPush(fn);
    }, (grantee) => repository.grantPull(grantee));
  }

  private constructor(
    private readonly repo: ecr.IRepository,
    private readonly grantWriter: (grantee: iam.IGrantable) => void,
    private readonly grantReader: (grantee: iam.IGrantable) => iam.Grant,
  ) {}

  /**
   * The destination repository.
   */
  public get destinationRepository(): ecr.IRepository {
    return this.repo;
  }

  /**
   * Grants pull on the destination repository.
   */
  public grantPull(grantee: iam.IGrantable): iam.Grant {
    return this.grantReader(grantee);
  }

  /**
   * Grants the provider's function what the copy needs.
   *
   * @internal
   */
  public _bind(provider: ImageSyncProvider, removeOnDelete: boolean): void {
    this.grantWriter(provider.function);
    if (removeOnDelete) {
      // The opt-in removal reads where the tag points and deletes the tag with the ECR API.
      this.repo.grant(provider.function, 'ecr:DescribeImages', 'ecr:BatchDeleteImage');
    }
  }
}
