/**
 * One tensor file format behind one interface (the way Netron keeps one
 * module per model format): how a group's named tensors are written, and how
 * they are read back for a resumed run. groups.ts loops over the registry
 * (index.ts) instead of testing format names.
 */
import type { TensorFormatId } from '../../../shared/export-formats.js';
import type { FileRecord } from '../files.js';
import type { NamedTensor } from '../safetensors.js';

export interface TensorGroupFile {
  name: string;
  data: Buffer;
}

export interface TensorFormat {
  id: TensorFormatId;
  /**
   * The files for one group `name`: its tensors and, where the format has room for it, metadata.
   * `mainTensor` is the tensor a single-tensor file is named after (no suffix).
   */
  encode(name: string, tensors: readonly NamedTensor[], metadata: Record<string, string>, mainTensor: string): TensorGroupFile[];
  /** The group's tensors by name from its files listed in the sidecar, or undefined when this format wrote none. */
  decode(dir: string, name: string, files: readonly FileRecord[], mainTensor: string): Map<string, Float32Array> | undefined;
}
