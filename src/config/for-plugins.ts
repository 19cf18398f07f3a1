// What a directive's parser in src/plugins/ may use of the config reader: the syntax tree, the
// argument reader with its uniform messages, and the value parsers. A face of its own, so the plugin
// table (imported by build.ts) never imports config/index.ts back.
export { readListenAddress } from "./dir-misc.ts";
export type { Arg, Directive } from "./parser.ts";
export { type BuildContext, fmtMs, Reader } from "./reader.ts";
export {
  isIpLiteral,
  normalizeName,
  parseDuration,
  parseInt10,
  parseListenAddress,
  zonesOf,
} from "./values.ts";
