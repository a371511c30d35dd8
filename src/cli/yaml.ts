/**
 * The YAML parser `sync` reads its config with, bundled on its own (assets/cli/yaml.js; see
 * side-bundle.ts).
 */
export { parse } from 'yaml';
