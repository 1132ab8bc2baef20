/** Service definitions: XML → typed model, value checking and the runtime data tree. */
export * from './model.js';
export { DefinitionError } from './definition-error.js';
export { parseDefinition, sortDiagnostics, type ParseOptions } from './parse-definition.js';
export { BUILTIN_LINKS, LINK_TYPES } from './parse-routing.js';
export { loadDefinitionFile, checkDefinitionFile } from './load-definition.js';
export { describeQuote, findQuoteHints, fixTypographicQuotes, scanQuoteProblems, TYPOGRAPHIC_QUOTES, type QuoteProblem } from './quote-hints.js';
export {
  checkValue,
  checkArguments,
  zeroValue,
  describeType,
  describeValue,
  isPlainObject,
  type TypeScope,
} from './values.js';
export { parseTextValue, fromJsonValue, toJsonValue } from './value-text.js';
export { definitionToJson, typeName, type DefinitionJson, type FieldJson, type RuntimeDataJson } from './definition-json.js';
export { RuntimeDataTree, findRuntimeDataNode, cloneValue } from './runtime-data-tree.js';
export { runtimeDataFromJson } from './runtime-data-json.js';
export { closestMatch, didYouMean } from './did-you-mean.js';
