// The one reply under construction for positive cluster answers: a scratch buffer the records are
// written into with plain byte stores, then copied out, so the reply is the only allocation. Every
// answer owner is the question name (a pointer to it, so the client's spelling comes back), SRV
// targets are written in full (RFC 2782: no compression), glue owners point at their SRV target.

import {
  FLAG_TC,
  HEADER_LENGTH,
  OPT_RECORD_LENGTH,
  type QueryView,
  RCODE,
  TYPE,
  writeOpt,
} from "../dns/index.ts";
import { replyFlags } from "./reply.ts";
import type { Address, ServiceView } from "./view.ts";

/** Past this a reply stops growing and says TC (TCP's 64 KiB, less our OPT). */
const MAX_REPLY = 65535 - OPT_RECORD_LENGTH;
const scratch = Buffer.allocUnsafe(MAX_REPLY + 512);

// Plain byte stores: Buffer's writeUInt*BE validate every argument, and this is per record.
function u16(at: number, value: number): void {
  scratch[at] = value >>> 8;
  scratch[at + 1] = value & 0xff;
}

function u32(at: number, value: number): void {
  scratch[at] = value >>> 24;
  scratch[at + 1] = (value >>> 16) & 0xff;
  scratch[at + 2] = (value >>> 8) & 0xff;
  scratch[at + 3] = value & 0xff;
}

/** One reply under construction (there is one at a time: answers are written synchronously). */
export class Writer {
  pos = 0;
  answers = 0;
  additional = 0;
  truncated = false;
  private ttl = 0;
  private zone: Buffer = scratch;
  /** Wire labels of the service whose names srv() and ptr() write (see service()). */
  private prefix = "";
  private readonly glue: Address[] = [];
  /** Per glue record: where its owner (an SRV target) was written; -1 to write the owner in full. */
  private readonly glueAt: number[] = [];
  /** SRV weights to fill in once the (address, port) pairs are counted. */
  private readonly weightAt: number[] = [];
  /** Deduplicating mode: (target host, port) pairs written, and where each host's target is. */
  private dedupe = false;
  private readonly seenSrv = new Set<string | number>();
  private readonly targetAt = new Map<string, number>();

  begin(view: QueryView, ttl: number, zoneWire: Buffer): void {
    view.buf.copy(scratch, 0, 0, view.questionEnd);
    this.pos = view.questionEnd;
    this.answers = 0;
    this.additional = 0;
    this.truncated = false;
    this.ttl = ttl;
    this.zone = zoneWire;
    this.glue.length = 0;
    this.glueAt.length = 0;
    this.weightAt.length = 0;
    this.dedupe = false;
    if (this.seenSrv.size > 0) this.seenSrv.clear();
    if (this.targetAt.size > 0) this.targetAt.clear();
  }

  /** From here on, write each (target, port) SRV once (for lists that may repeat them). */
  deduplicate(): void {
    this.dedupe = true;
  }

  private room(n: number): boolean {
    if (this.pos + n <= MAX_REPLY) return true;
    this.truncated = true;
    return false;
  }

  /** Type, class IN, TTL and RDLENGTH after an owner already written. */
  private tail(type: number, rdLength: number): void {
    const p = this.pos;
    u16(p, type);
    u16(p + 2, 1);
    u32(p + 4, this.ttl);
    u16(p + 8, rdLength);
    this.pos = p + 10;
  }

  private pointer(at: number): void {
    u16(this.pos, 0xc000 | at);
    this.pos += 2;
  }

  /** An A or AAAA record owned by the name at `ownerAt`, or (-1) by the host's target written in full. */
  address(ownerAt: number, a: Address): boolean {
    const v6 = a.v6;
    const owner = ownerAt >= 0 ? 2 : this.targetLength(a.host);
    if (!this.room(owner + (v6 === null ? 14 : 26))) return false;
    if (ownerAt >= 0) this.pointer(ownerAt);
    else this.target(a.host);
    if (v6 === null) {
      this.tail(TYPE.A, 4);
      u32(this.pos, a.v4);
      this.pos += 4;
    } else {
      this.tail(TYPE.AAAA, 16);
      v6.copy(scratch, this.pos);
      this.pos += 16;
    }
    return true;
  }

  /** The service whose names srv() and ptr() write. */
  service(view: ServiceView): void {
    this.prefix = view.targetPrefix;
  }

  private targetLength(host: string): number {
    return (host === "" ? 0 : host.length + 1) + this.prefix.length + this.zone.length;
  }

  private target(host: string): void {
    let p = this.pos;
    if (host !== "") {
      scratch[p] = host.length;
      p += scratch.write(host, p + 1, "latin1") + 1;
    }
    p += scratch.write(this.prefix, p, "latin1");
    p += this.zone.copy(scratch, p);
    this.pos = p;
  }

  /**
   * A qname-owned SRV to `host.<service>` (the service itself for ""), weight filled in later by
   * weights(). Returns where the target name starts, or -1 when there was no room.
   */
  srvTo(host: string, port: number): number {
    const nameLength = this.targetLength(host);
    if (!this.room(18 + nameLength)) return -1;
    this.pointer(HEADER_LENGTH);
    this.tail(TYPE.SRV, 6 + nameLength);
    const p = this.pos;
    u16(p, 0);
    this.weightAt.push(p + 2);
    u16(p + 4, port);
    this.pos = p + 6;
    this.target(host);
    this.answers++;
    return p + 6;
  }

  /** An SRV to the address's host, and its glue (once per address: its ports come one after another). */
  srv(a: Address, port: number): void {
    const host = a.host;
    let at: number;
    if (this.dedupe) {
      const id = host === "" ? port : `${host}/${port}`;
      if (this.seenSrv.has(id)) {
        at = this.targetAt.get(host) ?? -1;
      } else {
        this.seenSrv.add(id);
        const written = this.srvTo(host, port);
        if (written < 0) return;
        at = this.targetAt.get(host) ?? written; // glue points at the host's first target
        if (at === written) this.targetAt.set(host, at);
      }
    } else {
      at = this.srvTo(host, port);
      if (at < 0) return;
    }
    if (this.glue[this.glue.length - 1] !== a) this.addGlue(a, at);
  }

  addGlue(a: Address, targetAt: number): void {
    this.glue.push(a);
    this.glueAt.push(targetAt);
  }

  weights(weight: number): void {
    for (const at of this.weightAt) u16(at, weight);
  }

  /** The glue collected by srv(), in the Additional section. */
  flushGlue(): void {
    for (let i = 0; i < this.glue.length; i++) {
      const at = this.glueAt[i]!;
      if (!this.address(at >= 0 && at <= 0x3fff ? at : -1, this.glue[i]!)) return;
      this.additional++;
    }
  }

  /** A qname-owned PTR to the address's host name (the service for a ClusterIP). */
  ptr(host: string): void {
    const nameLength = this.targetLength(host);
    if (!this.room(12 + nameLength)) return;
    this.pointer(HEADER_LENGTH);
    this.tail(TYPE.PTR, nameLength);
    this.target(host);
    this.answers++;
  }

  /**
   * The records written so far, to be replayed for another query of the same name, as a latin1
   * string (a string costs its bytes plus a small header; a Buffer several times that): the
   * bytes, then the answer and additional counts.
   */
  memo(view: QueryView): string {
    const p = this.pos; // the counts go after the records, where the OPT will be written over them
    u16(p, this.answers);
    u16(p + 2, this.additional);
    return scratch.toString("latin1", view.questionEnd, p + 4);
  }

  /** The reply for `view` from a memo(): this query's header and question, the kept records. */
  replay(view: QueryView, memo: string): Buffer {
    view.buf.copy(scratch, 0, 0, view.questionEnd);
    const records = memo.length - 4;
    scratch.write(memo, view.questionEnd, records, "latin1");
    this.pos = view.questionEnd + records;
    this.answers = (memo.charCodeAt(records) << 8) | memo.charCodeAt(records + 1);
    this.additional = (memo.charCodeAt(records + 2) << 8) | memo.charCodeAt(records + 3);
    this.truncated = false;
    return this.finish(view);
  }

  finish(view: QueryView): Buffer {
    const flags = replyFlags(view, RCODE.NOERROR, true) | (this.truncated ? FLAG_TC : 0);
    u16(2, flags);
    u16(4, 1);
    u16(6, this.answers);
    u16(8, 0);
    u16(10, this.additional + (view.hasOpt ? 1 : 0));
    let p = this.pos;
    if (view.hasOpt) {
      writeOpt(scratch, p, view.dnssecOk);
      p += OPT_RECORD_LENGTH;
    }
    const out = Buffer.allocUnsafe(p);
    scratch.copy(out, 0, 0, p);
    return out;
  }
}

/** Answers are written synchronously, one at a time: one writer serves them all. */
export const writer = new Writer();
