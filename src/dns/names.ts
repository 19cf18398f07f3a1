// Domain names on the wire: conversion for configuration, and suffix tests on raw query bytes.

import { MAX_NAME_LENGTH } from "./constants.ts";

/** "Example.COM." or "example.com" -> lowercase wire form; "." -> a single zero byte. */
export function nameToWire(name: string): Buffer {
  const trimmed = name.endsWith(".") ? name.slice(0, -1) : name;
  if (trimmed === "") return Buffer.from([0]);
  const labels = trimmed.toLowerCase().split(".");
  const parts: Buffer[] = [];
  for (const label of labels) {
    const bytes = Buffer.from(label, "latin1");
    if (bytes.length === 0 || bytes.length > 63) throw new RangeError(`bad label in name "${name}"`);
    parts.push(Buffer.from([bytes.length]), bytes);
  }
  parts.push(Buffer.from([0]));
  const wire = Buffer.concat(parts);
  if (wire.length > MAX_NAME_LENGTH) throw new RangeError(`name "${name}" is longer than 255 bytes`);
  return wire;
}

/** Lowercase presentation form with a trailing dot, for an uncompressed name at `start`. */
export function wireToName(buf: Buffer, start: number, end: number): string {
  if (end - start <= 1) return ".";
  let out = "";
  let i = start;
  while (i < end) {
    const len = buf[i]!;
    if (len === 0) break;
    out += `${buf.toString("latin1", i + 1, i + 1 + len).toLowerCase()}.`;
    i += len + 1;
  }
  return out;
}

/** Normalise a presentation-form name: lowercase with a trailing dot. */
export function canonicalName(name: string): string {
  const lower = name.toLowerCase();
  if (lower === "" || lower === ".") return ".";
  return lower.endsWith(".") ? lower : `${lower}.`;
}

/**
 * Whether the uncompressed name at [start, end) lies within `zoneWire` (lowercase wire form),
 * comparing at label boundaries and ignoring case.
 */
export function nameInZone(buf: Buffer, start: number, end: number, zoneWire: Buffer): boolean {
  const zoneLength = zoneWire.length;
  let i = start;
  while (i < end) {
    if (end - i === zoneLength && equalsIgnoreCase(buf, i, zoneWire, 0, zoneLength)) return true;
    const len = buf[i]!;
    if (len === 0) return false;
    i += len + 1;
  }
  return false;
}

/** Byte comparison with ASCII letters folded; safe on wire names since label lengths are < 64. */
export function equalsIgnoreCase(
  a: Buffer,
  aStart: number,
  b: Buffer,
  bStart: number,
  length: number,
): boolean {
  for (let k = 0; k < length; k++) {
    let x = a[aStart + k]!;
    let y = b[bStart + k]!;
    if (x >= 0x41 && x <= 0x5a) x += 0x20;
    if (y >= 0x41 && y <= 0x5a) y += 0x20;
    if (x !== y) return false;
  }
  return true;
}

/**
 * Offset just past a possibly compressed name starting at `offset`, or -1 if it runs off the
 * buffer or is malformed.
 */
export function skipName(buf: Buffer, offset: number): number {
  let i = offset;
  for (let guard = 0; guard < 128; guard++) {
    if (i >= buf.length) return -1;
    const len = buf[i]!;
    if (len === 0) return i + 1;
    if ((len & 0xc0) === 0xc0) return i + 2 <= buf.length ? i + 2 : -1;
    if (len > 63) return -1;
    i += len + 1;
  }
  return -1;
}
