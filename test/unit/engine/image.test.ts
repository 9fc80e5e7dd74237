import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { loadImage, rgbResizedCropped, toChw } from '../../../src/engine/image/image.js';
import { clipInputSpec } from '../../../src/engine/clip/preprocess.js';

async function png(w: number, h: number, rgba = false): Promise<Buffer> {
  const channels = rgba ? 4 : 3;
  const raw = Buffer.alloc(w * h * channels);
  for (let i = 0; i < w * h; i++) {
    raw[i * channels] = 200;
    raw[i * channels + 1] = (i % w) * 10;
    raw[i * channels + 2] = 30;
    if (rgba) raw[i * channels + 3] = 0;
  }
  return sharp(raw, { raw: { width: w, height: h, channels } })
    .png()
    .toBuffer();
}

async function code(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

describe('loadImage', () => {
  it('hashes content and reads size', async () => {
    const a = await loadImage({ bytes: await png(8, 6) });
    expect([a.width, a.height]).toEqual([8, 6]);
    expect(a.hash).toMatch(/^[0-9a-f]{64}$/);
    const b = await loadImage({ bytes: await png(8, 6) });
    expect(b.hash).toBe(a.hash);
  });

  it('rejects corrupt, truncated, empty and missing files with clear codes', async () => {
    expect(await code(loadImage({ bytes: new Uint8Array([1, 2, 3, 4]) }))).toBe('IMAGE_DECODE_FAILED');
    const good = await png(32, 32);
    expect(await code(loadImage({ bytes: good.subarray(0, good.length - 40) }))).toBe('IMAGE_DECODE_FAILED');
    expect(await code(loadImage({ bytes: new Uint8Array() }))).toBe('IMAGE_DECODE_FAILED');
    await expect(loadImage({ path: '/no/such/image.png' })).rejects.toThrow(/file not found/);
  });

  it('refuses images above the pixel limit (decompression bombs)', async () => {
    await expect(loadImage({ bytes: await png(100, 100) }, 5000)).rejects.toMatchObject({ code: 'IMAGE_TOO_LARGE' });
  });

  it('applies EXIF orientation and flattens alpha onto white', async () => {
    const raw = await sharp(await png(8, 4))
      .jpeg()
      .withMetadata({ orientation: 6 })
      .toBuffer();
    const img = await loadImage({ bytes: raw });
    const rgb = await rgbResizedCropped(img, 4, 4, 'cubic');
    expect([rgb.width, rgb.height]).toEqual([4, 4]);
    const transparent = await loadImage({ bytes: await png(4, 4, true) });
    const flat = await rgbResizedCropped(transparent, 4, 4, 'cubic');
    expect(Array.from(flat.data.slice(0, 3))).toEqual([255, 255, 255]);
  });

  it('normalises CHW with the CLIP config', async () => {
    const spec = clipInputSpec({
      size: { shortest_edge: 4 },
      crop_size: { height: 4, width: 4 },
      image_mean: [0.5, 0.5, 0.5],
      image_std: [0.5, 0.5, 0.5],
      rescale_factor: 1 / 255,
    });
    expect(spec.crop).toBe(4);
    expect(spec.kernel).toBe('cubic');
    const chw = toChw({ width: 1, height: 1, data: Uint8Array.of(255, 0, 51) }, spec.scale, spec.mean, spec.std);
    expect(Array.from(chw).map((x) => +x.toFixed(3))).toEqual([1, -1, -0.6]);
  });
});

describe('EXIF orientation', () => {
  it('reports the upright size for quarter-turn orientations 5-8, as the decoded pixels have it', async () => {
    const raw = await sharp({ create: { width: 40, height: 20, channels: 3, background: '#3366cc' } })
      .jpeg()
      .toBuffer();
    for (const orientation of [1, 3, 5, 6, 7, 8]) {
      const bytes = await sharp(raw).withMetadata({ orientation }).jpeg().toBuffer();
      const img = await loadImage({ bytes });
      const upright = orientation >= 5 ? [20, 40] : [40, 20];
      expect([img.width, img.height], `orientation ${orientation}`).toEqual(upright);
      // what the encoders' pipeline decodes (rgbResizedCropped rotates the same way)
      const { info } = await sharp(img.bytes).rotate().raw().toBuffer({ resolveWithObject: true });
      expect([info.width, info.height], `decoded, orientation ${orientation}`).toEqual(upright);
    }
  });
});
