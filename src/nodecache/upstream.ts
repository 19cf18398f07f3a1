// The node's own resolvers, for __PILLAR__UPSTREAM__SERVERS__: resolv.conf's nameservers (the pod
// runs with dnsPolicy Default), except our own -localip addresses. When what is left is only a
// loopback stub (systemd-resolved's 127.0.0.53 or another local forwarder), systemd's full
// resolv.conf names the real upstreams; use it when it exists.

import { isIP } from "node:net";
import { parseResolvConf } from "../config/index.ts";
import { DaemonError } from "../errors/index.ts";

export interface NodeUpstreams {
  /** Nameserver IPs, in file order. */
  servers: string[];
  /** The file they came from. */
  source: string;
  /** Why this file / these servers, for the log (null when plain resolv.conf was used as is). */
  note: string | null;
}

export interface UpstreamPaths {
  resolvConf: string;
  systemdResolvConf: string;
}

export function isLoopback(ip: string): boolean {
  if (isIP(ip) === 4) return ip.startsWith("127.");
  const lower = ip.toLowerCase();
  return lower === "::1" || lower === "0:0:0:0:0:0:0:1" || /^::ffff:127\./.test(lower);
}

function normalise(ip: string): string {
  return ip.toLowerCase().replace(/^::ffff:(\d+\.)/, "$1");
}

/** Reads `path` (null when absent or unreadable) and returns its nameservers minus `ours`. */
function serversOf(
  read: (path: string) => string | null,
  path: string,
  ours: Set<string>,
): { all: string[]; usable: string[] } | null {
  const text = read(path);
  if (text === null) return null;
  const all = parseResolvConf(text).nameservers;
  return { all, usable: all.filter((ip) => !ours.has(normalise(ip))) };
}

export function selectNodeUpstreams(
  paths: UpstreamPaths,
  localIps: readonly string[],
  read: (path: string) => string | null,
): NodeUpstreams {
  const ours = new Set(localIps.map(normalise));
  const main = serversOf(read, paths.resolvConf, ours);
  const excluded = main === null ? [] : main.all.filter((ip) => ours.has(normalise(ip)));
  const ownNote = excluded.length > 0 ? `skipped our own address(es) ${excluded.join(" ")}` : null;
  const usable = main?.usable ?? [];
  if (usable.length > 0 && !usable.every(isLoopback)) {
    return { servers: usable, source: paths.resolvConf, note: ownNote };
  }
  // Only a local stub (or nothing usable): systemd-resolved's own file lists the real upstreams.
  const systemd = serversOf(read, paths.systemdResolvConf, ours);
  const why =
    usable.length > 0
      ? `${paths.resolvConf} names only the local stub ${usable.join(" ")}`
      : main === null
        ? `${paths.resolvConf} cannot be read`
        : `${paths.resolvConf} names no usable nameserver${ownNote ? ` (${ownNote})` : ""}`;
  if (systemd !== null && systemd.usable.length > 0) {
    return {
      servers: systemd.usable,
      source: paths.systemdResolvConf,
      note: `${why}; using ${paths.systemdResolvConf}`,
    };
  }
  if (usable.length > 0) {
    // A hostNetwork pod reaches the node's stub; better than nothing, and said so.
    return {
      servers: usable,
      source: paths.resolvConf,
      note: `${why} and ${paths.systemdResolvConf} ${systemd === null ? "does not exist" : "names none"}; forwarding to the stub`,
    };
  }
  throw new DaemonError(
    "RESOLV_CONF",
    `no upstream nameserver for __PILLAR__UPSTREAM__SERVERS__: ${why}, and ${paths.systemdResolvConf} ${
      systemd === null ? "does not exist" : "names none either"
    } (our own -localip addresses are never used as upstreams)`,
  );
}
