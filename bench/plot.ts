// Memory-over-time charts as PNG with no plotting package: lines rasterised into an RGB buffer, a 3x5
// pixel font for the labels, and the PNG chunks written with node:zlib (deflate and CRC-32).

import { writeFileSync } from "node:fs";
import { crc32, deflateSync } from "node:zlib";

export interface Series {
  label: string;
  /** [seconds, MiB] points in time order. */
  points: [number, number][];
  color: [number, number, number];
}

const GLYPHS: Record<string, string> = {
  "0": "111101101101111",
  "1": "010110010010111",
  "2": "111001111100111",
  "3": "111001111001111",
  "4": "101101111001001",
  "5": "111100111001111",
  "6": "111100111101111",
  "7": "111001001001001",
  "8": "111101111101111",
  "9": "111101111001111",
  A: "010101111101101",
  B: "110101110101110",
  C: "011100100100011",
  D: "110101101101110",
  E: "111100110100111",
  F: "111100110100100",
  G: "011100101101011",
  H: "101101111101101",
  I: "111010010010111",
  J: "001001001101010",
  K: "101101110101101",
  L: "100100100100111",
  M: "101111111101101",
  N: "110101101101101",
  O: "010101101101010",
  P: "110101110100100",
  Q: "010101101110011",
  R: "110101110101101",
  S: "011100010001110",
  T: "111010010010010",
  U: "101101101101111",
  V: "101101101101010",
  W: "101101111111101",
  X: "101101010101101",
  Y: "101101010010010",
  Z: "111001010100111",
  ".": "000000000000010",
  ",": "000000000010100",
  "-": "000000111000000",
  "/": "001001010100100",
  ":": "000010000010000",
  "(": "010100100100010",
  ")": "010001001001010",
  "%": "101001010100101",
  "+": "000010111010000",
  "=": "000111000111000",
  "^": "010101000000000",
  _: "000000000000111",
  " ": "000000000000000",
};

class Canvas {
  readonly pixels: Buffer;
  readonly width: number;
  readonly height: number;

  constructor(width: number, height: number) {
    this.width = width;
    this.height = height;
    this.pixels = Buffer.alloc(width * height * 3, 255);
  }

  set(x: number, y: number, [r, g, b]: [number, number, number]): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const i = (y * this.width + x) * 3;
    this.pixels[i] = r;
    this.pixels[i + 1] = g;
    this.pixels[i + 2] = b;
  }

  line(x0: number, y0: number, x1: number, y1: number, color: [number, number, number], thick = 1): void {
    const steps = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))));
    for (let s = 0; s <= steps; s++) {
      const x = x0 + ((x1 - x0) * s) / steps;
      const y = y0 + ((y1 - y0) * s) / steps;
      for (let d = 0; d < thick; d++) {
        this.set(x, y + d, color);
        this.set(x + d, y, color);
      }
    }
  }

  /** Text at 2x scale (6x10 px per glyph, 8 px advance); lowercase is drawn as uppercase. */
  text(x: number, y: number, value: string, color: [number, number, number] = [0, 0, 0]): void {
    let cx = x;
    for (const ch of value.toUpperCase()) {
      const glyph = GLYPHS[ch] ?? GLYPHS[" "]!;
      for (let row = 0; row < 5; row++)
        for (let col = 0; col < 3; col++)
          if (glyph[row * 3 + col] === "1")
            for (let dy = 0; dy < 2; dy++)
              for (let dx = 0; dx < 2; dx++) this.set(cx + col * 2 + dx, y + row * 2 + dy, color);
      cx += 8;
    }
  }

  png(): Buffer {
    const raw = Buffer.alloc((this.width * 3 + 1) * this.height);
    for (let y = 0; y < this.height; y++)
      this.pixels.copy(raw, y * (this.width * 3 + 1) + 1, y * this.width * 3, (y + 1) * this.width * 3);
    const header = Buffer.alloc(13);
    header.writeUInt32BE(this.width, 0);
    header.writeUInt32BE(this.height, 4);
    header[8] = 8; // bit depth
    header[9] = 2; // RGB
    return Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      chunk("IHDR", header),
      chunk("IDAT", deflateSync(raw)),
      chunk("IEND", Buffer.alloc(0)),
    ]);
  }
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, "latin1");
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

/** A "nice" tick step (1, 2 or 5 times a power of ten) giving about `count` ticks up to `max`. */
function tickStep(max: number, count: number): number {
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * power >= raw) return m * power;
  return 10 * power;
}

/** Writes a line chart of MiB over seconds for `series` to `path`. */
export function plotMemory(path: string, title: string, series: Series[]): void {
  const width = 960;
  const height = 480;
  const left = 70;
  const right = 20;
  const top = 40 + 14 * Math.ceil(series.length / 2);
  const bottom = 50;
  const c = new Canvas(width, height);
  const all = series.flatMap((s) => s.points);
  const maxX = Math.max(1, ...all.map((p) => p[0]));
  const maxY = Math.max(1, ...all.map((p) => p[1])) * 1.08;
  const px = (x: number) => left + (x / maxX) * (width - left - right);
  const py = (y: number) => height - bottom - (y / maxY) * (height - top - bottom);
  const grey: [number, number, number] = [215, 215, 215];
  const yStep = tickStep(maxY, 6);
  for (let y = 0; y <= maxY; y += yStep) {
    c.line(left, py(y), width - right, py(y), grey);
    const label = String(Math.round(y));
    c.text(left - 8 - label.length * 8, py(y) - 5, label);
  }
  const xStep = tickStep(maxX, 10);
  for (let x = 0; x <= maxX; x += xStep) {
    c.line(px(x), top, px(x), height - bottom, grey);
    const label = String(Math.round(x * 10) / 10);
    c.text(px(x) - label.length * 4, height - bottom + 8, label);
  }
  c.line(left, top, left, height - bottom, [0, 0, 0]);
  c.line(left, height - bottom, width - right, height - bottom, [0, 0, 0]);
  c.text(left, 10, title);
  c.text(width / 2 - 40, height - 20, "SECONDS");
  c.text(8, top - 16, "MIB");
  series.forEach((s, i) => {
    const lx = left + (i % 2) * 440;
    const ly = 28 + 14 * Math.floor(i / 2);
    c.line(lx, ly + 4, lx + 24, ly + 4, s.color, 3);
    c.text(lx + 32, ly, s.label, s.color);
    for (let k = 1; k < s.points.length; k++) {
      const [x0, y0] = s.points[k - 1]!;
      const [x1, y1] = s.points[k]!;
      c.line(px(x0), py(y0), px(x1), py(y1), s.color, 2);
    }
  });
  writeFileSync(path, c.png());
}
