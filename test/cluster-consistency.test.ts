// The cluster index's answers agree with each other over random worlds: SRV glue matches what its
// targets resolve to, a headless service's addresses are its endpoints', every PTR target resolves
// back to the address, kept (memoised) SRV answers equal freshly built ones and change with the
// watch, and the client's spelling of a name changes nothing but the echoed name.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { ClusterRecords } from "../src/cluster/index.ts";
import type { SlimPort } from "../src/kubeapi/types.ts";
import { ask, kubeConfig, ns, query, records, slice, svc, syncEmpty } from "./support/cluster-fixtures.ts";
import type { LoosePacket, LooseRecord } from "./support/loose-packet.ts";

/** A small deterministic generator, so a failure names its seed. */
function generator(seed: number) {
  let s = seed;
  const next = () => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s / 0x7fffffff;
  };
  return { next, pick: <T>(a: readonly T[]): T => a[Math.floor(next() * a.length)]! };
}

const NAMESPACES = ["default", "other"];
const NAMES = ["web", "db", "pets", "api"];
const PORT_NAMES = ["http", "", "metrics"];

function randomWorld(seed: number): { r: ClusterRecords; services: string[] } {
  const g = generator(seed);
  const r = records(kubeConfig());
  syncEmpty(r);
  for (const n of NAMESPACES) r.apply({ type: "upsert", kind: "namespace", object: ns(n) });
  const services: string[] = [];
  const ports = (): SlimPort[] =>
    Array.from({ length: 1 + Math.floor(g.next() * 3) }, () => ({
      name: g.pick(PORT_NAMES),
      port: g.pick([53, 80, 8080, 9090]),
      protocol: g.pick(["TCP", "UDP"]),
    }));
  let octet = 1;
  for (const namespace of NAMESPACES) {
    for (const name of NAMES) {
      const headless = g.next() < 0.5;
      const dual = g.next() < 0.3;
      const clusterIPs = headless ? [] : dual ? [`10.96.0.${octet}`, `fd00::${octet}`] : [`10.96.0.${octet}`];
      r.apply({
        type: "upsert",
        kind: "service",
        object: svc(namespace, name, { headless, clusterIPs, ports: ports() }),
      });
      for (const part of ["a", "b"]) {
        const six = g.next() < 0.3;
        const endpoints = Array.from({ length: Math.floor(g.next() * 4) }, (_, k) => ({
          addresses: [six ? `fd01::${octet}:${k + 1}` : `10.1.${octet}.${k + 1}`],
          hostname: g.next() < 0.4 ? `${name}-${k}` : "",
        }));
        r.apply({
          type: "upsert",
          kind: "endpointslice",
          object: slice(namespace, name, `${name}-${part}`, endpoints, ports(), six ? "IPv6" : "IPv4"),
        });
      }
      services.push(`${name}.${namespace}.svc.cluster.local`);
      octet++;
    }
  }
  return { r, services };
}

async function addresses(r: ClusterRecords, name: string): Promise<Set<string>> {
  const out = new Set<string>();
  for (const type of ["A", "AAAA"]) {
    const p = await ask(r, name, type);
    for (const rr of p?.answers ?? []) if (rr.type === type) out.add(String(rr.data));
  }
  return out;
}

function srvTargets(p: LoosePacket | null): string[] {
  return (p?.answers ?? [])
    .filter((rr) => rr.type === "SRV")
    .map((rr) => (rr.data as { target: string }).target);
}

function glueOf(p: LoosePacket | null, target: string): string[] {
  return (p?.additionals ?? [])
    .filter((rr: LooseRecord) => (rr.type === "A" || rr.type === "AAAA") && rr.name === target)
    .map((rr) => String(rr.data));
}

function reverse(ip: string): string {
  if (ip.includes(".")) return `${ip.split(".").reverse().join(".")}.in-addr.arpa`;
  const groups = ip.split("::");
  const head = groups[0] ? groups[0].split(":") : [];
  const tail = groups[1] ? groups[1].split(":") : [];
  const all = [...head, ...Array(8 - head.length - tail.length).fill("0"), ...tail];
  return `${[...all.map((x) => x.padStart(4, "0")).join("")].reverse().join(".")}.ip6.arpa`;
}

describe("cluster answers agree with each other (random worlds)", () => {
  for (const seed of [1, 2, 3, 4]) {
    test(`seed ${seed}: SRV glue, headless addresses, PTR round trips, memoised SRV, spelling`, async () => {
      const { r, services } = randomWorld(seed);
      let checkedTargets = 0;
      for (const base of services) {
        const srv = await ask(r, base, "SRV");
        const targets = srvTargets(srv);
        for (const target of new Set(targets)) {
          const resolved = await addresses(r, target);
          for (const ip of glueOf(srv, target)) {
            assert.ok(resolved.has(ip), `${base}: glue ${ip} for ${target} is among its addresses`);
          }
          checkedTargets++;
        }
        const a = await addresses(r, base);
        const isHeadless = targets.some((t) => t !== base);
        if (isHeadless) {
          const union = new Set<string>();
          for (const target of new Set(targets)) for (const ip of await addresses(r, target)) union.add(ip);
          for (const ip of union)
            assert.ok(a.has(ip), `${base}: endpoint address ${ip} is among the service's`);
        }
        for (const ip of a) {
          const ptr = await ask(r, reverse(ip), "PTR");
          const names = (ptr?.answers ?? []).map((rr) => String(rr.data));
          assert.ok(names.length > 0, `${base}: ${ip} has a PTR`);
          for (const name of names) {
            assert.ok((await addresses(r, name)).has(ip), `${base}: PTR ${ip} -> ${name} resolves back`);
          }
        }
        // the second SRV answer comes from the view's memo: same bytes but the ID
        const first = (await r.answer(query(base, "SRV", { id: 1 }), "10.0.0.1")) as Buffer | null;
        const again = (await r.answer(query(base, "SRV", { id: 1 }), "10.0.0.1")) as Buffer | null;
        assert.deepEqual(again, first, `${base}: kept SRV answer equals the built one`);
        // 0x20: only the echoed question differs
        const mixed = base.replace(/[a-z]/g, (c, i: number) => (i % 2 === 0 ? c.toUpperCase() : c));
        const upper = (await r.answer(query(mixed, "SRV", { id: 1 }), "10.0.0.1")) as Buffer | null;
        assert.equal(upper?.length, first?.length, `${mixed}: same size`);
        if (first !== null && upper !== null) {
          assert.equal(upper.toString("latin1").toLowerCase(), first.toString("latin1").toLowerCase());
        }
      }
      assert.ok(checkedTargets > 0, "the world had SRV answers to check");
    });
  }

  test("a kept SRV answer changes with the watch", async () => {
    const r = records(kubeConfig());
    syncEmpty(r);
    r.apply({ type: "upsert", kind: "namespace", object: ns("default") });
    const http = { name: "http", port: 80, protocol: "TCP" };
    r.apply({
      type: "upsert",
      kind: "service",
      object: svc("default", "hl", { headless: true, ports: [http] }),
    });
    const eps = (ip: string) => slice("default", "hl", "hl-a", [{ addresses: [ip] }], [http]);
    r.apply({ type: "upsert", kind: "endpointslice", object: eps("10.1.0.1") });
    const before = await ask(r, "_http._tcp.hl.default.svc.cluster.local", "SRV");
    assert.deepEqual(
      srvTargets(before),
      ["10-1-0-1.hl.default.svc.cluster.local."].map((t) => t.slice(0, -1)),
    );
    await ask(r, "_http._tcp.hl.default.svc.cluster.local", "SRV"); // now kept
    r.apply({ type: "upsert", kind: "endpointslice", object: eps("10.1.0.2") });
    const after = await ask(r, "_http._tcp.hl.default.svc.cluster.local", "SRV");
    assert.deepEqual(srvTargets(after), ["10-1-0-2.hl.default.svc.cluster.local"]);
    assert.deepEqual(glueOf(after, "10-1-0-2.hl.default.svc.cluster.local"), ["10.1.0.2"]);
  });
});
