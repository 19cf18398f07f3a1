// Control names: queries for `<kind><token>.nodelocaldns.invalid.` never reach the chain.
//   h<token>: the liveness self-probe, answered NOERROR at once by any nodelocaldns.
//   x<token>: the handoff probe: dropped by the instance whose token it is (and its workers),
//             answered by any other, so an answer proves a successor serves the same address.
// Everything else under the suffix gets NXDOMAIN here and is never forwarded.

import { randomBytes } from "node:crypto";
import { equalsIgnoreCase, nameToWire } from "../dns/index.ts";

export const CONTROL_SUFFIX = "nodelocaldns.invalid.";
const TOKEN_LENGTH = 16;
const SUFFIX_WIRE = nameToWire(CONTROL_SUFFIX);
/** Wire length of a control name: one label of kind+token, then the suffix. */
const CONTROL_NAME_LENGTH = 1 + 1 + TOKEN_LENGTH + SUFFIX_WIRE.length;

export type ControlKind = "health" | "own-handoff" | "other" | null;

export function newToken(): string {
  return randomBytes(TOKEN_LENGTH / 2).toString("hex");
}

export function controlName(kind: "h" | "x", token: string): string {
  return `${kind}${token}.${CONTROL_SUFFIX}`;
}

export class ControlNames {
  readonly token: string;
  private readonly tokenBytes: Buffer;

  constructor(token: string) {
    if (!/^[0-9a-f]{16}$/.test(token)) throw new RangeError(`control token must be 16 hex digits: ${token}`);
    this.token = token;
    this.tokenBytes = Buffer.from(token, "latin1");
  }

  /** Classify the question name at [12, qnameEnd); null for every ordinary name (one compare). */
  classify(buf: Buffer, qnameEnd: number): ControlKind {
    if (qnameEnd - 12 !== CONTROL_NAME_LENGTH) return null;
    const suffixAt = qnameEnd - SUFFIX_WIRE.length;
    if (!equalsIgnoreCase(buf, suffixAt, SUFFIX_WIRE, 0, SUFFIX_WIRE.length)) return null;
    if (buf[12] !== 1 + TOKEN_LENGTH) return "other";
    const kind = buf[13]! | 0x20;
    if (kind === 0x68) return "health"; // h
    if (kind === 0x78 && equalsIgnoreCase(buf, 14, this.tokenBytes, 0, TOKEN_LENGTH)) return "own-handoff"; // x
    return "other";
  }
}
