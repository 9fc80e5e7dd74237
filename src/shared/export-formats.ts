/**
 * The file formats an export can write, named once: the contract's schema
 * (VisualizeParams.files.tensors), the CLI's --formats and the engine's
 * format registry (src/engine/export/formats/) all use these lists, so a new
 * format is added here and in one registry file.
 */

/** Formats that hold a group's tensors. */
export const TENSOR_FORMATS = ['npy', 'safetensors'] as const;
export type TensorFormatId = (typeof TENSOR_FORMATS)[number];

/** Everything `twinlens export --formats` takes: the tensor formats and PNG panels. */
export const EXPORT_FORMATS = [...TENSOR_FORMATS, 'png'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** Every kind of file an export group can hold (sheets add SVG; every group ends with a JSON sidecar). */
export type ExportFileKind = ExportFormat | 'svg' | 'json';

/** The MIME type a file is returned with for download (visualize's `files`). */
export const EXPORT_MIME: Record<ExportFileKind, string> = {
  npy: 'application/octet-stream',
  safetensors: 'application/octet-stream',
  png: 'image/png',
  svg: 'image/svg+xml',
  json: 'application/json',
};
