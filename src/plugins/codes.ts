// Record type and class mnemonics, as miekg/dns's StringToType / StringToClass read them (the types
// people write in rewrite and template rules), and their names back for templates and metrics.

export const CLASS_CODES: Readonly<Record<string, number>> = {
  IN: 1,
  CS: 2,
  CH: 3,
  HS: 4,
  NONE: 254,
  ANY: 255,
};

// biome-ignore format: a table reads better packed
const TYPE_CODES: Readonly<Record<string, number>> = {
  A: 1, NS: 2, CNAME: 5, SOA: 6, NULL: 10, PTR: 12, HINFO: 13, MX: 15, TXT: 16, RP: 17, AFSDB: 18,
  AAAA: 28, LOC: 29, SRV: 33, NAPTR: 35, CERT: 37, DNAME: 39, OPT: 41, APL: 42, DS: 43, SSHFP: 44,
  RRSIG: 46, NSEC: 47, DNSKEY: 48, NSEC3: 50, NSEC3PARAM: 51, TLSA: 52, SMIMEA: 53, CDS: 59,
  CDNSKEY: 60, OPENPGPKEY: 61, SVCB: 64, HTTPS: 65, SPF: 99, TKEY: 249, TSIG: 250, IXFR: 251,
  AXFR: 252, ANY: 255, URI: 256, CAA: 257,
};

const TYPE_NAMES = new Map(Object.entries(TYPE_CODES).map(([k, v]) => [v, k]));
const CLASS_NAMES = new Map(Object.entries(CLASS_CODES).map(([k, v]) => [v, k]));

/** A type mnemonic (A, MX, ...) or TYPEnnn; undefined when unknown. */
export function typeCode(text: string): number | undefined {
  const upper = text.toUpperCase();
  const generic = upper.match(/^TYPE(\d{1,5})$/);
  if (generic) return Number(generic[1]) <= 65535 ? Number(generic[1]) : undefined;
  return TYPE_CODES[upper];
}

/** A class mnemonic (IN, CH, ...) or CLASSnnn; undefined when unknown. */
export function classCode(text: string): number | undefined {
  const upper = text.toUpperCase();
  const generic = upper.match(/^CLASS(\d{1,5})$/);
  if (generic) return Number(generic[1]) <= 65535 ? Number(generic[1]) : undefined;
  return CLASS_CODES[upper];
}

/** As miekg/dns prints types: the mnemonic, else TYPEnnn. */
export function typeText(code: number): string {
  return TYPE_NAMES.get(code) ?? `TYPE${code}`;
}

/** As miekg/dns prints classes: the mnemonic, else CLASSnnn. */
export function classText(code: number): string {
  return CLASS_NAMES.get(code) ?? `CLASS${code}`;
}
