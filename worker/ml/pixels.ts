import { decodePng } from '../png';

/**
 * What the reference model sees of an image: greyscale (luma) in [0, 1], resized to a square side with
 * bilinear sampling at pixel centres (a 2× reduction is then the mean of each 2×2 block). The exported
 * ONNX model takes the same tensor, so its users preprocess images this way too (CONTRACT.md).
 */
export function greyscaleOf(png: Uint8Array): { width: number; height: number; grey: Float32Array } {
  const image = decodePng(png);
  const { width, height, colorType, bitDepth, pixels, chunks } = image;
  const wide = bitDepth === 16;
  // 16-bit samples are big-endian: the high byte is close enough for a model input.
  const sample = (offset: number) => pixels[offset]!;
  const stride = image.bytesPerPixel;
  const step = wide ? 2 : 1;
  const palette = chunks.find((c) => c.type === 'PLTE')?.data;
  const grey = new Float32Array(width * height);
  const luma = (r: number, g: number, b: number) => (0.299 * r + 0.587 * g + 0.114 * b) / 255;
  for (let i = 0; i < width * height; i++) {
    const at = i * stride;
    switch (colorType) {
      case 0:
      case 4:
        grey[i] = sample(at) / 255;
        break;
      case 2:
      case 6:
        grey[i] = luma(sample(at), sample(at + step), sample(at + 2 * step));
        break;
      case 3: {
        const p = pixels[at]! * 3;
        grey[i] = palette ? luma(palette[p] ?? 0, palette[p + 1] ?? 0, palette[p + 2] ?? 0) : 0;
        break;
      }
    }
  }
  return { width, height, grey };
}

/** Bilinear resize of a one-channel image to side × side (half-pixel centres, edges clamped). */
export function resizeSquare(grey: Float32Array, width: number, height: number, side: number): Float32Array {
  if (width === side && height === side) return grey;
  const out = new Float32Array(side * side);
  const sx = width / side;
  const sy = height / side;
  for (let y = 0; y < side; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), height - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, height - 1);
    const wy = fy - y0;
    for (let x = 0; x < side; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), width - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, width - 1);
      const wx = fx - x0;
      const top = grey[y0 * width + x0]! * (1 - wx) + grey[y0 * width + x1]! * wx;
      const bottom = grey[y1 * width + x0]! * (1 - wx) + grey[y1 * width + x1]! * wx;
      out[y * side + x] = top * (1 - wy) + bottom * wy;
    }
  }
  return out;
}

/** A PNG as the model's input: side × side greyscale in [0, 1]. */
export function modelInputOf(png: Uint8Array, side: number): Float32Array {
  const { width, height, grey } = greyscaleOf(png);
  return resizeSquare(grey, width, height, side);
}

/** Mirror images in place of a copy (training augmentation). */
export function flipped(pixels: Float32Array, side: number, horizontal: boolean, vertical: boolean): Float32Array {
  const out = new Float32Array(pixels.length);
  for (let y = 0; y < side; y++) {
    const sy = vertical ? side - 1 - y : y;
    for (let x = 0; x < side; x++) out[y * side + x] = pixels[sy * side + (horizontal ? side - 1 - x : x)]!;
  }
  return out;
}
