/**
 * The tensor format registry. Reading back prefers the first format in this
 * order that a group has (safetensors holds every tensor in one file).
 */
import type { TensorFormatId } from '../../../shared/export-formats.js';
import { npyFormat } from './npy.js';
import { safetensorsFormat } from './safetensors.js';
import type { TensorFormat } from './types.js';

export type { TensorFormat, TensorGroupFile } from './types.js';

export const TENSOR_FORMAT_REGISTRY: Readonly<Record<TensorFormatId, TensorFormat>> = {
  safetensors: safetensorsFormat,
  npy: npyFormat,
};

/** Registry entries in read-back preference order. */
export const TENSOR_FORMATS_BY_PREFERENCE: readonly TensorFormat[] = [safetensorsFormat, npyFormat];
