import { Stack } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/**
 * The construct with id `id` directly under the stack of `scope`, made by `create` on first use:
 * how one construct per stack is shared (the sync provider, the image copy role).
 */
export function stackSingleton<T extends IConstruct>(
  scope: IConstruct,
  id: string,
  // The class itself: its constructor may be private, so only its prototype is typed.
  type: { readonly prototype: T },
  create: (stack: Stack, id: string) => T,
): T {
  const stack = Stack.of(scope);
  const existing = stack.node.tryFindChild(id);
  // instanceof, for a class whose constructor is private.
  return existing !== undefined && Object.prototype.isPrototypeOf.call(type.prototype, existing) ? existing as T : create(stack, id);
}
