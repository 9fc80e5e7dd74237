/**
 * float16 ⇄ float32 for tensors. onnxruntime-node accepts Uint16Array for
 * float16 inputs and returns float16 outputs as raw Uint16Array bits; Node 20
 * has no Float16Array, so conversion goes through @petamoriken/float16.
 */
import { getFloat16, setFloat16 } from '@petamoriken/float16';

export function float32ToFloat16Bits(src: Float32Array): Uint16Array {
  const out = new Uint16Array(src.length);
  const view = new DataView(out.buffer);
  for (let i = 0; i < src.length; i++) setFloat16(view, i * 2, src[i], true);
  return out;
}

export function float16BitsToFloat32(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
  for (let i = 0; i < src.length; i++) out[i] = getFloat16(view, i * 2, true);
  return out;
}
