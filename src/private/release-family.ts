/**
 * Release families: how the `ImageSync`s sharing one destination repository keep their tags apart.
 *
 * Each sync owns a component name; it writes `<component>_<releaseTag>`. A component is lower-case
 * letters and digits joined by single `-` or `.`, so it never holds the separator `_`: the first
 * `_` of a destination tag ends its component, and a family's lifecycle pattern `<component>_*`
 * matches that family's tags and no other's (`api_*` cannot match `api-gateway_1.0` or `api.v2_1.0`).
 */

/** Between the component and the release tag. Never part of a component. */
export const FAMILY_SEPARATOR = '_';

/** The longest component: leaves at least 64 of a tag's 128 characters to the release tag. */
export const MAX_COMPONENT_LENGTH = 63;

const COMPONENT = /^[a-z0-9]+(?:[.-][a-z0-9]+)*$/;

/** What a component may be, for messages. */
export const COMPONENT_GRAMMAR = `1-${MAX_COMPONENT_LENGTH} characters: lower-case letters and digits, `
  + 'joined by single "-" or "." (no "_", which separates the component from the release tag)';

/** True when `value` is a component name. */
export function isComponent(value: string): boolean {
  return value.length <= MAX_COMPONENT_LENGTH && COMPONENT.test(value);
}

/**
 * The component a construct id stands for: `ApiServer` and `api_server` give `api-server`,
 * `Proxy` gives `proxy`. Undefined when nothing of the id is left.
 */
export function componentFromId(id: string): string | undefined {
  const words = id
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1-$2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((word) => word.length > 0);
  const component = words.join('-').slice(0, MAX_COMPONENT_LENGTH).replace(/-+$/, '');
  return component.length > 0 && isComponent(component) ? component : undefined;
}

/** The tag a sync of `component` writes for `releaseTag`. */
export function familyTag(component: string, releaseTag: string): string {
  return `${component}${FAMILY_SEPARATOR}${releaseTag}`;
}

/** The lifecycle tag pattern that selects every tag of the family, and only those. */
export function familyPattern(component: string): string {
  return `${component}${FAMILY_SEPARATOR}*`;
}
