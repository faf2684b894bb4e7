// Re-exported from here so that typescript-eslint resolves from this
// package's node_modules, next to the TypeScript 5.9 it parses with (see
// package.json's description).
export { default } from 'typescript-eslint';
