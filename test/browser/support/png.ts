/**
 * A small PNG reader for the screenshot tests: Chromium's screenshots are 8-bit RGB or RGBA,
 * not interlaced, which is all this decodes (anything else is refused, not misread).
 */
import { inflateSync } from 'node:zlib';

export interface Image {
  width: number;
  height: number;
  /** RGBA, four bytes a pixel, row after row. */
  pixels: Uint8Array;
}

export type Rgb = [number, number, number];

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function chunks(png: Buffer): { type: string; data: Buffer }[] {
  if (!png.subarray(0, 8).equals(SIGNATURE)) throw new Error('not a PNG');
  const found = [];
  for (let offset = 8; offset < png.length;) {
    const length = png.readUInt32BE(offset);
    found.push({
      type: png.toString('latin1', offset + 4, offset + 8),
      data: png.subarray(offset + 8, offset + 8 + length),
    });
    offset += 12 + length;
  }
  return found;
}

function paeth(left: number, up: number, upLeft: number): number {
  const estimate = left + up - upLeft;
  const [a, b, c] = [Math.abs(estimate - left), Math.abs(estimate - up), Math.abs(estimate - upLeft)];
  return a <= b && a <= c ? left : b <= c ? up : upLeft;
}

/** Undoes one scanline's filter in place (PNG filter types 0-4). */
function unfilter(line: Uint8Array, previous: Uint8Array, filter: number, bytesPerPixel: number): void {
  for (let i = 0; i < line.length; i++) {
    const left = i >= bytesPerPixel ? (line[i - bytesPerPixel] as number) : 0;
    const up = previous[i] as number;
    const upLeft = i >= bytesPerPixel ? (previous[i - bytesPerPixel] as number) : 0;
    const predicted = [0, left, up, (left + up) >> 1, paeth(left, up, upLeft)][filter];
    if (predicted === undefined) throw new Error(`unknown PNG filter ${filter}`);
    line[i] = ((line[i] as number) + predicted) & 0xff;
  }
}

export function decodePng(png: Buffer): Image {
  const all = chunks(png);
  const header = all.find((chunk) => chunk.type === 'IHDR')?.data;
  if (!header) throw new Error('PNG without IHDR');
  const [width, height] = [header.readUInt32BE(0), header.readUInt32BE(4)];
  const [depth, colour, interlace] = [header[8], header[9], header[12]];
  if (depth !== 8 || (colour !== 2 && colour !== 6) || interlace !== 0) {
    throw new Error(`only 8-bit RGB(A) non-interlaced PNGs, got depth ${depth}, colour type ${colour}`);
  }
  const channels = colour === 6 ? 4 : 3;
  const data = inflateSync(Buffer.concat(all.filter((chunk) => chunk.type === 'IDAT').map((chunk) => chunk.data)));
  const stride = width * channels;
  const pixels = new Uint8Array(width * height * 4);
  let previous = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const start = y * (stride + 1);
    const line = Uint8Array.from(data.subarray(start + 1, start + 1 + stride));
    unfilter(line, previous, data[start] as number, channels);
    for (let x = 0; x < width; x++) {
      pixels.set(line.subarray(x * channels, x * channels + 3), (y * width + x) * 4);
      pixels[(y * width + x) * 4 + 3] = channels === 4 ? (line[x * channels + 3] as number) : 255;
    }
    previous = line;
  }
  return { width, height, pixels };
}

/** How many pixels of the image are within `tolerance` of the colour, per channel. */
export function countColour(image: Image, colour: Rgb, tolerance = 24): number {
  let count = 0;
  for (let i = 0; i < image.pixels.length; i += 4) {
    const close = colour.every(
      (value, channel) => Math.abs((image.pixels[i + channel] as number) - value) <= tolerance,
    );
    if (close) count++;
  }
  return count;
}
