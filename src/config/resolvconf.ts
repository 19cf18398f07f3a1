// resolv.conf reader (nameserver/search/domain/options), tolerant like glibc and miekg/dns: unknown
// lines are skipped, `#` and `;` start comments, IPv6 zone suffixes are dropped.

import { isIP } from "node:net";
import { stripZone } from "./values.ts";

export interface ResolvConf {
  nameservers: string[];
  search: string[];
  options: string[];
}

export function parseResolvConf(text: string): ResolvConf {
  const nameservers: string[] = [];
  let search: string[] = [];
  const options: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const cut = raw.search(/[#;]/);
    const fields = (cut === -1 ? raw : raw.slice(0, cut))
      .trim()
      .split(/\s+/)
      .filter((f) => f !== "");
    const [key, ...rest] = fields;
    if (key === "nameserver" && rest[0] !== undefined) {
      const ip = stripZone(rest[0]);
      if (isIP(ip) !== 0) nameservers.push(ip);
    } else if (key === "search") {
      search = rest; // the last search/domain line wins, as in glibc
    } else if (key === "domain" && rest[0] !== undefined) {
      search = [rest[0]];
    } else if (key === "options") {
      options.push(...rest);
    }
  }
  return { nameservers, search, options };
}
