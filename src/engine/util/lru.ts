/**
 * A byte-bounded LRU cache for latents and features keyed by image hash and
 * settings. Bounded by bytes rather than entries because a CLIP feature map
 * and a UNet tap differ by orders of magnitude in size.
 */
export class ByteLru<V> {
  private map = new Map<string, { value: V; bytes: number }>();
  private total = 0;

  constructor(
    private maxBytes: number,
    private sizeOf: (v: V) => number,
  ) {}

  get(key: string): V | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    this.map.delete(key);
    this.map.set(key, e);
    return e.value;
  }

  set(key: string, value: V): void {
    const bytes = this.sizeOf(value);
    const old = this.map.get(key);
    if (old) {
      this.total -= old.bytes;
      this.map.delete(key);
    }
    if (bytes > this.maxBytes) return;
    this.map.set(key, { value, bytes });
    this.total += bytes;
    for (const [k, e] of this.map) {
      if (this.total <= this.maxBytes) break;
      this.map.delete(k);
      this.total -= e.bytes;
    }
  }

  get bytes(): number {
    return this.total;
  }

  get size(): number {
    return this.map.size;
  }

  clear(): void {
    this.map.clear();
    this.total = 0;
  }
}

export function typedBytes(v: ArrayBufferView | ArrayBufferView[] | Record<string, ArrayBufferView>): number {
  if (ArrayBuffer.isView(v)) return v.byteLength;
  if (Array.isArray(v)) return v.reduce((a, x) => a + x.byteLength, 0);
  return Object.values(v).reduce((a, x) => a + x.byteLength, 0);
}
