// Go (RE2) regular expressions as JS RegExps: a leading (?flags) becomes JS flags, (?P<name>) becomes
// (?<name>). RE2 has no backreferences or lookaround, so what RE2 accepts JS reads the same way.

import { goRegexp } from "../log/index.ts";

/** CoreDNS's cap on rewrite/template patterns. */
export const MAX_REGEXP_LENGTH = 10_000;

/** The RegExp, or an error message when the pattern is not valid. */
export function compileGoRegexp(source: string): RegExp | string {
  if (source.length > MAX_REGEXP_LENGTH)
    return `regex pattern too long: ${source.length} > ${MAX_REGEXP_LENGTH}`;
  try {
    return goRegexp(source.replaceAll("(?P<", "(?<"));
  } catch {
    return `invalid regular expression "${source}"`;
  }
}

/** How many capture groups a pattern has. */
export function groupCount(re: RegExp): number {
  return new RegExp(`${re.source}|`).exec("")!.length - 1;
}
