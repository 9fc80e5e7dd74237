/**
 * ClipExtractor: the CLIP vision tower's patch tokens as LLaVA-1.5 uses them:
 * the chosen hidden layer (the penultimate one by default, exposed by graph
 * surgery since exports only output the last), CLS dropped, on the patch
 * grid. Cached by image hash: the same image is asked many questions.
 */
import { TwinLensError } from '../../shared/errors.js';
import type { FeatureMap } from '../../shared/contract.js';
import type { ClipSection } from '../../shared/manifest.js';
import type { LoadedImage } from '../image/image.js';
import type { OnnxSession } from '../onnx/session.js';
import { asFloat32 } from '../onnx/session.js';
import { ByteLru } from '../util/lru.js';
import { type StageTimer, timed } from '../util/timer.js';
import { type ClipInputSpec, clipPixels } from './preprocess.js';

export interface ClipLayerResolver {
  /** Tensor name of the chosen layer, or 'last_hidden_state'. */
  tensorName(): Promise<string>;
  session(outputs: string[]): Promise<OnnxSession>;
}

export class ClipExtractor {
  private cache = new ByteLru<FeatureMap>(128 * 2 ** 20, (v) => v.data.byteLength);

  constructor(
    private section: ClipSection,
    private spec: ClipInputSpec,
    private layers: ClipLayerResolver,
  ) {}

  clearCache(): void {
    this.cache.clear();
  }

  get inputSize(): number {
    return this.spec.crop;
  }

  async extract(image: LoadedImage, timer?: StageTimer): Promise<FeatureMap> {
    const hit = this.cache.get(image.hash);
    if (hit) return hit;
    const pixels = await timed(timer, 'clip_preprocess', () => clipPixels(image, this.spec));
    const name = await this.layers.tensorName();
    const s = await this.layers.session([name]);
    const size = this.spec.crop;
    const out = await timed(timer, 'clip', () => s.run({ pixel_values: { dims: [1, 3, size, size], data: pixels } }, [name]));
    const t = out[name];
    if (!t || t.dims.length !== 3) {
      throw new TwinLensError(
        'ONNX_IO_MISMATCH',
        `CLIP layer ${name} has shape [${t?.dims.join(',')}], expected [1, tokens, hidden]`,
        'Choose a transformer layer output',
      );
    }
    const [, n, d] = t.dims;
    const data = asFloat32(t);
    const skip = this.section.dropCls ? 1 : 0;
    const patches = n - skip;
    const side = Math.round(Math.sqrt(patches));
    if (side * side !== patches) {
      throw new TwinLensError(
        'ONNX_IO_MISMATCH',
        `CLIP layer ${name} has ${n} tokens; with dropCls=${this.section.dropCls} that is not a square patch grid`,
        'Set clip.dropCls to match the encoder',
      );
    }
    const fm: FeatureMap = { alias: 'clip', tensorName: name, height: side, width: side, channels: d, data: data.slice(skip * d, n * d) };
    this.cache.set(image.hash, fm);
    return fm;
  }
}
