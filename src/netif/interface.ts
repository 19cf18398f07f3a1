// The link-local interface carrying every local IP (node-cache: pkg/netif, a dummy link).
//
// Where the kernel has no `dummy` type we fall back to a `bridge` with no ports: bridges exist on
// every Kubernetes node (CNI plugins use them), an up bridge without ports keeps carrier, and its
// addresses get ordinary local routes, so it behaves like a dummy for our purpose. (A veth would need
// a useless peer; ifb is meant for traffic shaping and is often not built.) If no link type can be
// created, the addresses go on `lo` and teardown removes only those addresses, never `lo` itself.
// IPv6 addresses are added with `nodad`: a fresh bridge would otherwise keep them "tentative" for a
// while, and a tentative address cannot be bound.

import { isIPv6 } from "node:net";
import { DaemonError } from "../errors/index.ts";
import { commandLine, type Exec, mustRun } from "./exec.ts";

export type InterfaceErrorType = "interface_add" | "interface_check";

/** A failed interface step; `errortype` is the setup_errors_total label it counts under. */
export class InterfaceError extends DaemonError {
  readonly errortype: InterfaceErrorType;
  constructor(errortype: InterfaceErrorType, message: string, cause?: unknown) {
    super("EXEC_FAILED", message, { cause });
    this.errortype = errortype;
  }
}

export interface LinkLog {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export interface InterfaceStatus {
  /** The link (or `lo`, in loopback mode) exists. */
  present: boolean;
  up: boolean;
  /** The link's kind (dummy, bridge, ...), "loopback" for lo, null when absent. */
  kind: string | null;
  /** Local IPs not configured on it. */
  missing: string[];
}

export interface LinkManagerOptions {
  name: string;
  localIps: string[];
  exec: Exec;
  log: LinkLog;
  /** The `ip` program. */
  ip?: string;
  /** Link types tried in order when the link must be created. */
  linkTypes?: string[];
}

/** Canonical text of an address, so "fd00:0::a" and "fd00::a" compare equal. */
export function canonicalIp(ip: string): string {
  return isIPv6(ip) ? new URL(`http://[${ip}]/`).hostname.slice(1, -1) : ip;
}

interface IpAddrJson {
  ifname?: string;
  flags?: string[];
  link_type?: string;
  linkinfo?: { info_kind?: string };
  addr_info?: { family?: string; local?: string }[];
}

export class LinkManager {
  readonly name: string;
  readonly localIps: string[];
  private readonly exec: Exec;
  private readonly log: LinkLog;
  private readonly ip: string;
  private readonly linkTypes: string[];
  /** "lo" once we fell back to loopback; remembered so teardown never deletes lo. */
  private mode: "link" | "lo";
  /** Addresses that were on lo before we touched it: not ours to remove. */
  private loPreexisting = new Set<string>();
  private loInspected = false;

  constructor(opts: LinkManagerOptions) {
    this.name = opts.name;
    this.localIps = opts.localIps.map(canonicalIp);
    this.exec = opts.exec;
    this.log = opts.log;
    this.ip = opts.ip ?? "ip";
    this.linkTypes = opts.linkTypes ?? ["dummy", "bridge"];
    this.mode = opts.name === "lo" ? "lo" : "link";
  }

  /** "link" (a link named `name`) or "lo" (addresses on loopback). */
  get usingLoopback(): boolean {
    return this.mode === "lo";
  }

  private get device(): string {
    return this.mode === "lo" ? "lo" : this.name;
  }

  /** Addresses on another link (kube-proxy's kube-ipvs0); null when there is no such link. */
  async addressesOf(name: string): Promise<string[] | null> {
    const res = await this.exec(this.ip, ["-j", "addr", "show", "dev", name]);
    if (res.code !== 0) return null;
    try {
      const parsed = JSON.parse(res.stdout) as IpAddrJson[];
      return (parsed[0]?.addr_info ?? []).flatMap((a) => (a.local ? [canonicalIp(a.local)] : []));
    } catch {
      return null;
    }
  }

  /** Reads the device state; absent device is a normal answer, other failures throw. */
  async status(): Promise<InterfaceStatus> {
    const args = ["-j", "-d", "addr", "show", "dev", this.device];
    const res = await this.exec(this.ip, args);
    if (res.code !== 0) {
      if (/does not exist|cannot find device/i.test(res.stderr)) {
        return { present: false, up: false, kind: null, missing: [...this.localIps] };
      }
      throw new InterfaceError("interface_check", `${commandLine(this.ip, args)}: ${res.stderr.trim()}`);
    }
    let parsed: IpAddrJson[];
    try {
      parsed = JSON.parse(res.stdout) as IpAddrJson[];
    } catch (err) {
      throw new InterfaceError(
        "interface_check",
        `${commandLine(this.ip, args)}: unreadable JSON output`,
        err,
      );
    }
    const link = parsed[0];
    if (link === undefined) return { present: false, up: false, kind: null, missing: [...this.localIps] };
    const have = new Set((link.addr_info ?? []).map((a) => (a.local ? canonicalIp(a.local) : "")));
    return {
      present: true,
      up: (link.flags ?? []).includes("UP"),
      kind: link.linkinfo?.info_kind ?? (link.link_type === "loopback" ? "loopback" : null),
      missing: this.localIps.filter((ip) => !have.has(ip)),
    };
  }

  /**
   * Creates the link if absent (or adopts an existing one of that name), adds the missing addresses
   * and sets it up. Returns whether the link had to be created. Throws InterfaceError.
   */
  async ensure(): Promise<{ created: boolean; added: string[] }> {
    let st = await this.status();
    let created = false;
    if (!st.present && this.mode === "link") {
      await this.create();
      created = true;
      try {
        st = await this.status();
      } catch (err) {
        throw new InterfaceError("interface_add", (err as Error).message, err);
      }
      if (!st.present)
        throw new InterfaceError("interface_add", `interface ${this.device} vanished after creation`);
    }
    if (this.mode === "lo" && !this.loInspected) {
      const have = new Set(this.localIps.filter((ip) => !st.missing.includes(ip)));
      this.loPreexisting = have;
      this.loInspected = true;
    }
    const added: string[] = [];
    try {
      for (const ip of st.missing) {
        const v6 = isIPv6(ip);
        const args = v6
          ? ["-6", "addr", "replace", `${ip}/128`, "dev", this.device, "nodad"]
          : ["addr", "replace", `${ip}/32`, "dev", this.device];
        await mustRun(this.exec, this.ip, args);
        added.push(ip);
      }
      if (!st.up) await mustRun(this.exec, this.ip, ["link", "set", "dev", this.device, "up"]);
    } catch (err) {
      const type: InterfaceErrorType = created ? "interface_add" : "interface_check";
      throw new InterfaceError(type, `configuring interface ${this.device}: ${(err as Error).message}`, err);
    }
    return { created, added };
  }

  private async create(): Promise<void> {
    const failures: string[] = [];
    for (const type of this.linkTypes) {
      const args = ["link", "add", this.name, "type", type];
      const res = await this.exec(this.ip, args);
      if (res.code === 0) {
        if (type !== this.linkTypes[0])
          this.log.warn(`created interface ${this.name} as type ${type} (${failures.join("; ")})`);
        return;
      }
      if (/file exists/i.test(res.stderr)) return; // created concurrently: adopt it
      failures.push(`${commandLine(this.ip, args)}: ${res.stderr.trim()}`);
    }
    // No link type works here: put the addresses on lo and remember that we did.
    this.log.warn(
      `cannot create interface ${this.name} (${failures.join("; ")}); adding the local IPs to lo instead`,
    );
    this.mode = "lo";
  }

  /** Deletes the link, or in loopback mode only the addresses we added to lo. */
  async teardown(): Promise<void> {
    if (this.mode === "lo") {
      for (const ip of this.localIps) {
        if (this.loPreexisting.has(ip)) continue;
        const args = isIPv6(ip)
          ? ["-6", "addr", "del", `${ip}/128`, "dev", "lo"]
          : ["addr", "del", `${ip}/32`, "dev", "lo"];
        const res = await this.exec(this.ip, args);
        if (res.code !== 0 && !/not found|cannot assign/i.test(res.stderr)) {
          throw new InterfaceError("interface_check", `${commandLine(this.ip, args)}: ${res.stderr.trim()}`);
        }
      }
      return;
    }
    const args = ["link", "del", "dev", this.name];
    const res = await this.exec(this.ip, args);
    if (res.code !== 0 && !/does not exist|cannot find device/i.test(res.stderr)) {
      throw new InterfaceError("interface_check", `${commandLine(this.ip, args)}: ${res.stderr.trim()}`);
    }
  }
}
