// The `log` directive: one line per answered query, in CoreDNS's shape. The pino line carries the
// fields one by one and, as `msg`, the text CoreDNS would print for the block's format ({common}
// by default), e.g. `127.0.0.1:40212 - 4660 "A IN example.org. udp 29 false 512" NOERROR qr,rd,ra 45 0.000114s`.

import type { LogConfig } from "../config/types.ts";
import {
  FLAG_AA,
  FLAG_AD,
  FLAG_CD,
  FLAG_QR,
  FLAG_RA,
  FLAG_RD,
  FLAG_TC,
  nameInZone,
  nameToWire,
  RCODE,
  rcodeName,
  scanReply,
  TYPE,
  typeName,
  wireToName,
} from "../dns/index.ts";
import type { Logger } from "../log/index.ts";
import type { RepliedHook } from "./metrics-plugin.ts";
import type { Query } from "./query.ts";

export const COMMON_FORMAT =
  '{remote}:{port} - {>id} "{type} {class} {name} {proto} {size} {>do} {>bufsize}" {rcode} {>rflags} {rsize} {duration}';
export const COMBINED_FORMAT = `${COMMON_FORMAT} "{>opcode}"`;

export type ResponseClass = "success" | "denial" | "error";

/** CoreDNS's response.Typify + Classify: NOERROR with data or a referral is success; NXDOMAIN or NODATA with an SOA is denial; the rest is error. */
export function classify(reply: Buffer, query: Query): ResponseClass {
  const scan = scanReply(reply);
  if (scan === null) return "error";
  const opcode = (reply.readUInt16BE(2) >> 11) & 0xf;
  if (opcode !== 0 || query.qtype === TYPE.AXFR || query.qtype === TYPE.IXFR) return "error";
  const rcode = scan.rcode;
  if (scan.ancount > 0 && rcode === RCODE.NOERROR) return "success";
  const soa = scan.soaNegativeTtl >= 0;
  if (soa && (rcode === RCODE.NOERROR || rcode === RCODE.NXDOMAIN)) return "denial";
  if (rcode === RCODE.NOERROR) return "success";
  return "error";
}

/** Response flags as CoreDNS's {>rflags}: qr,aa,tc,rd,ra,z,ad,cd. */
export function replyFlags(flags: number): string {
  const out: string[] = [];
  if (flags & FLAG_QR) out.push("qr");
  if (flags & FLAG_AA) out.push("aa");
  if (flags & FLAG_TC) out.push("tc");
  if (flags & FLAG_RD) out.push("rd");
  if (flags & FLAG_RA) out.push("ra");
  if (flags & 0x0040) out.push("z");
  if (flags & FLAG_AD) out.push("ad");
  if (flags & FLAG_CD) out.push("cd");
  return out.join(",");
}

/** Seconds as Go's FormatFloat(s, 'f', -1, 64) + "s": plain decimal, never an exponent. */
export function formatDuration(seconds: number): string {
  const text = seconds >= 1e-6 || seconds === 0 ? String(seconds) : seconds.toFixed(12).replace(/0+$/, "");
  return `${text}s`;
}

export interface QueryLogFields {
  client: string;
  id: number;
  type: string;
  class: string;
  name: string;
  proto: "udp" | "tcp";
  size: number;
  do: boolean;
  bufsize: number;
  rcode: string;
  rflags: string;
  rsize: number;
  /** Seconds. */
  duration: number;
  opcode: number;
  responseClass: ResponseClass;
}

/** The placeholders of CoreDNS's replacer that a query log line can use. */
function placeholder(key: string, f: QueryLogFields, remote: string, port: string): string | undefined {
  switch (key) {
    case "{remote}":
      return remote;
    case "{port}":
      return port;
    case "{>id}":
      return String(f.id);
    case "{type}":
      return f.type;
    case "{class}":
      return f.class;
    case "{name}":
      return f.name;
    case "{proto}":
      return f.proto;
    case "{size}":
      return String(f.size);
    case "{>do}":
      return String(f.do);
    case "{>bufsize}":
      return String(f.bufsize);
    case "{rcode}":
      return f.rcode;
    case "{>rflags}":
      return f.rflags;
    case "{rsize}":
      return String(f.rsize);
    case "{duration}":
      return formatDuration(f.duration);
    case "{>opcode}":
      return String(f.opcode);
    default:
      return undefined;
  }
}

export function renderFormat(format: string, f: QueryLogFields, remote: string, port: string): string {
  const template = format.replaceAll("{common}", COMMON_FORMAT).replaceAll("{combined}", COMBINED_FORMAT);
  // Unknown placeholders print as "-", as CoreDNS's replacer does for empty values.
  return template.replace(/\{>?[a-z_]+\}/g, (key) => placeholder(key, f, remote, port) ?? "-");
}

/** A block's `log` directive as a hook for every answered query of that block. */
export function queryLogger(config: LogConfig, log: Logger): RepliedHook {
  const all = config.classes.includes("all");
  const classes = new Set(config.classes);
  const names = config.names.includes(".") ? null : config.names.map((n) => nameToWire(n));
  return (query, reply, seconds) => {
    if (names !== null && !names.some((zone) => nameInZone(query.buf, 12, query.qnameEnd, zone))) return;
    const responseClass = classify(reply, query);
    if (!all && !classes.has(responseClass)) return;
    const ip = query.remoteAddress.startsWith("::ffff:") ? query.remoteAddress.slice(7) : query.remoteAddress;
    const remote = ip.includes(":") ? `[${ip}]` : ip;
    const port = String(query.remotePort);
    const fields: QueryLogFields = {
      client: `${remote}:${port}`,
      id: query.id,
      type: typeName(query.qtype),
      class: query.qclass === 1 ? "IN" : query.qclass === 3 ? "CH" : `CLASS${query.qclass}`,
      name: wireToName(query.buf, 12, query.qnameEnd),
      proto: query.transport.proto,
      size: query.buf.length,
      do: query.dnssecOk,
      // CoreDNS's state.Size(): the EDNS size (512 without) over UDP, 64K over TCP.
      bufsize: query.transport.proto === "tcp" ? 65535 : query.udpSize,
      rcode: rcodeName(reply.length >= 4 ? reply[3]! & 0x0f : RCODE.SERVFAIL),
      rflags: reply.length >= 4 ? replyFlags(reply.readUInt16BE(2)) : "",
      rsize: reply.length,
      duration: seconds,
      opcode: query.opcode,
      responseClass,
    };
    log.info({ ...fields, plugin: "log" }, renderFormat(config.format, fields, remote, port));
  };
}
