/**
 * CLIP preprocessing from a transformers preprocessor_config.json: resize the
 * short side (bicubic by default, like CLIPImageProcessor's resample=3),
 * center-crop, rescale by 1/255, normalise with the config's mean and std.
 */
import { TwinLensError } from '../../shared/errors.js';
import { type LoadedImage, type ResampleKernel, rgbResizedCropped, toChw } from '../image/image.js';

export interface PreprocessorConfig {
  size?: number | { shortest_edge?: number; height?: number; width?: number };
  crop_size?: number | { height: number; width: number };
  do_resize?: boolean;
  do_center_crop?: boolean;
  do_rescale?: boolean;
  do_normalize?: boolean;
  rescale_factor?: number;
  image_mean?: number[];
  image_std?: number[];
  resample?: number;
}

const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073];
const CLIP_STD = [0.26862954, 0.26130258, 0.27577711];

export interface ClipInputSpec {
  shortSide: number;
  crop: number;
  kernel: ResampleKernel;
  scale: number;
  mean: number[];
  std: number[];
}

/** PIL resample codes → sharp kernels: 0 nearest, 2 bilinear, 3 bicubic, 1 lanczos. */
function kernelOf(code: number | undefined): ResampleKernel {
  switch (code) {
    case 0:
      return 'nearest';
    case 2:
      return 'linear';
    case 1:
      return 'lanczos3';
    default:
      return 'cubic';
  }
}

export function clipInputSpec(cfg: PreprocessorConfig): ClipInputSpec {
  const crop = typeof cfg.crop_size === 'number' ? cfg.crop_size : cfg.crop_size?.height;
  const size = typeof cfg.size === 'number' ? cfg.size : (cfg.size?.shortest_edge ?? cfg.size?.height);
  const c = crop ?? size;
  if (!c || c < 1) {
    throw new TwinLensError(
      'PACK_MANIFEST_INVALID',
      'CLIP preprocessor_config.json has neither crop_size nor size',
      'Copy the preprocessor_config.json of the CLIP export',
    );
  }
  return {
    shortSide: cfg.do_resize === false ? c : (size ?? c),
    crop: cfg.do_center_crop === false ? (size ?? c) : c,
    kernel: kernelOf(cfg.resample),
    scale: cfg.do_rescale === false ? 1 : (cfg.rescale_factor ?? 1 / 255),
    mean: cfg.do_normalize === false ? [0, 0, 0] : (cfg.image_mean ?? CLIP_MEAN),
    std: cfg.do_normalize === false ? [1, 1, 1] : (cfg.image_std ?? CLIP_STD),
  };
}

export async function clipPixels(image: LoadedImage, spec: ClipInputSpec): Promise<Float32Array> {
  const rgb = await rgbResizedCropped(image, spec.shortSide, spec.crop, spec.kernel);
  return toChw(rgb, spec.scale, spec.mean, spec.std);
}
