// dns-packet with loose types for tests: encode any shape, decode into plain records.
import * as packet from "dns-packet";

export interface LooseRecord {
  name: string;
  type: string;
  ttl: number;
  class?: string;
  data?: unknown;
  udpPayloadSize?: number;
  flags?: number;
}

export interface LoosePacket {
  id: number;
  type?: string;
  rcode?: string;
  flags?: number;
  flag_aa?: boolean;
  flag_tc?: boolean;
  flag_rd?: boolean;
  flag_ra?: boolean;
  questions: { name: string; type: string; class: string }[];
  answers: LooseRecord[];
  authorities: LooseRecord[];
  additionals: LooseRecord[];
}

export function encodePacket(p: Record<string, unknown>): Buffer {
  return packet.encode(p as unknown as packet.Packet);
}

export function decodePacket(buf: Buffer): LoosePacket {
  const d = packet.decode(buf) as unknown as LoosePacket;
  d.answers ??= [];
  d.authorities ??= [];
  d.additionals ??= [];
  return d;
}
