// Wire constants (RFC 1035, 2671, 6891) used by the rest of dns/.

export const HEADER_LENGTH = 12;
export const OPT_RECORD_LENGTH = 11;
/** The UDP payload size we advertise and ask upstreams for (DNS flag day 2020). */
export const ADVERTISED_UDP_SIZE = 1232;
export const MIN_UDP_SIZE = 512;
export const MAX_NAME_LENGTH = 255;

export const TYPE = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  HINFO: 13,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  DS: 43,
  RRSIG: 46,
  NSEC: 47,
  DNSKEY: 48,
  HTTPS: 65,
  IXFR: 251,
  AXFR: 252,
  ANY: 255,
} as const;

export const CLASS_IN = 1;

export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  /** Extended RCODE (RFC 6891): the upper 8 bits go in the OPT record's TTL. */
  BADVERS: 16,
} as const;

const RCODE_NAMES = [
  "NOERROR",
  "FORMERR",
  "SERVFAIL",
  "NXDOMAIN",
  "NOTIMP",
  "REFUSED",
  "YXDOMAIN",
  "YXRRSET",
  "NXRRSET",
  "NOTAUTH",
  "NOTZONE",
  "RCODE11",
  "RCODE12",
  "RCODE13",
  "RCODE14",
  "RCODE15",
  "BADVERS",
];

export function rcodeName(rcode: number): string {
  return RCODE_NAMES[rcode] ?? `RCODE${rcode}`;
}

const TYPE_NAMES = new Map<number, string>(Object.entries(TYPE).map(([name, value]) => [value, name]));

export function typeName(qtype: number): string {
  return TYPE_NAMES.get(qtype) ?? `TYPE${qtype}`;
}

// Header flag bits (second 16-bit word).
export const FLAG_QR = 0x8000;
export const FLAG_AA = 0x0400;
export const FLAG_TC = 0x0200;
export const FLAG_RD = 0x0100;
export const FLAG_RA = 0x0080;
export const FLAG_AD = 0x0020;
export const FLAG_CD = 0x0010;
export const OPCODE_MASK = 0x7800;
export const RCODE_MASK = 0x000f;
/** The DO bit within the OPT record's TTL field (its third and fourth bytes). */
export const EDNS_DO = 0x8000;
