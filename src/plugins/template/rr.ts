// One resource record in zone-file (RFC 1035) presentation form -> a record dns-packet can write, as
// miekg/dns's NewRR reads it: `NAME [TTL] [CLASS] TYPE RDATA`, TTL and class in either order (TTL
// default 3600, class IN), names made absolute, ( ) grouping across the text, "quoted" strings.

import { isIP } from "node:net";
import { classCode } from "../codes.ts";
import type { DnsRecord } from "../reply.ts";

const DEFAULT_TTL = 3600;

/** The record, or a message saying what is wrong. */
export function parseRr(text: string): DnsRecord | string {
  const fields = splitFields(text);
  if (typeof fields === "string") return fields;
  if (fields.length < 2) return `"${text}": not a resource record`;
  const name = absolute(fields[0]!);
  let ttl = DEFAULT_TTL;
  let klass = "IN";
  let i = 1;
  for (let k = 0; k < 2 && i < fields.length; k++) {
    const f = fields[i]!;
    if (/^\d+$/.test(f)) ttl = Number(f);
    else if (classCode(f) !== undefined && typeOf(f) === null) klass = f.toUpperCase();
    else break;
    i++;
  }
  const type = fields[i]?.toUpperCase();
  if (type === undefined) return `"${text}": no record type`;
  const parse = RDATA[type];
  if (parse === undefined) return `"${text}": record type ${type} is not supported in templates`;
  let data: unknown;
  try {
    data = parse(fields.slice(i + 1));
  } catch (error) {
    if (!(error instanceof RdataError)) throw error;
    return `"${text}": ${error.message}`;
  }
  return { name, ttl, class: klass, type, data } as unknown as DnsRecord;
}

function typeOf(f: string): string | null {
  return RDATA[f.toUpperCase()] !== undefined ? f.toUpperCase() : null;
}

type Parser = (r: string[]) => unknown;

class RdataError extends Error {}

const bad = (msg: string): never => {
  throw new RdataError(msg);
};

const count =
  (n: number, fn: Parser): Parser =>
  (r) =>
    r.length === n ? fn(r) : bad(`expected ${n} rdata field${n === 1 ? "" : "s"}, got ${r.length}`);

const uint = (s: string, max: number, what: string): number =>
  /^\d+$/.test(s) && Number(s) <= max ? Number(s) : bad(`bad ${what} "${s}"`);

const RDATA: Record<string, Parser> = {
  A: count(1, ([ip]) => (isIP(ip!) === 4 ? ip : bad(`bad A address "${ip}"`))),
  AAAA: count(1, ([ip]) => (isIP(ip!) === 6 ? ip : bad(`bad AAAA address "${ip}"`))),
  CNAME: count(1, ([n]) => bare(absolute(n!))),
  DNAME: count(1, ([n]) => bare(absolute(n!))),
  NS: count(1, ([n]) => bare(absolute(n!))),
  PTR: count(1, ([n]) => bare(absolute(n!))),
  MX: count(2, ([pref, n]) => ({
    preference: uint(pref!, 65535, "MX preference"),
    exchange: bare(absolute(n!)),
  })),
  SRV: count(4, ([p, w, port, target]) => ({
    priority: uint(p!, 65535, "SRV priority"),
    weight: uint(w!, 65535, "SRV weight"),
    port: uint(port!, 65535, "SRV port"),
    target: bare(absolute(target!)),
  })),
  TXT: (r) => (r.length === 0 ? bad("TXT needs at least one string") : r),
  SOA: count(7, ([mname, rname, ...nums]) => {
    const [serial, refresh, retry, expire, minimum] = nums.map((x) => uint(x, 0xffffffff, "SOA number"));
    return {
      mname: bare(absolute(mname!)),
      rname: bare(absolute(rname!)),
      serial,
      refresh,
      retry,
      expire,
      minimum,
    };
  }),
};

/** Fields of the text: whitespace-separated, "quoted" strings one field, ( ) ignored, ; comments cut. */
function splitFields(text: string): string[] | string {
  const out: string[] = [];
  const re = /\s*(?:"((?:[^"\\]|\\.)*)"|([()])|(;.*$)|([^\s"();]+))/gy;
  let consumed = 0;
  for (let m = re.exec(text); m !== null; m = consumed < text.length ? re.exec(text) : null) {
    consumed = re.lastIndex;
    if (m[1] !== undefined) out.push(m[1].replace(/\\(.)/g, "$1"));
    else if (m[4] !== undefined) out.push(m[4]);
  }
  if (text.slice(consumed).trim() !== "") return `"${text}": cannot read "${text.slice(consumed).trim()}"`;
  return out;
}

function absolute(name: string): string {
  return name.endsWith(".") ? name : `${name}.`;
}

function bare(name: string): string {
  return name === "." ? "." : name.slice(0, -1);
}
