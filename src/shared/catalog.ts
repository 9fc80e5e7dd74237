/**
 * The tested public exports the workbench offers to download (Models → Get
 * models): which repository, which files, how big, and what each adds to a
 * pack. The sizes are the ones the Hub's tree pages show (REFERENCE.md A1–A3),
 * for the disk check before anything is fetched; the pull itself verifies
 * every file against the Hub's hashes.
 *
 * Why in shared: the renderer shows it and the engine downloads from it. A
 * mirror or a test replaces it with a JSON file of the same shape
 * ($TWINLENS_CATALOG, read by the engine only).
 */
export type CatalogRole = 'sd' | 'clip' | 'llm';

export interface CatalogEntry {
  id: string;
  title: string;
  role: CatalogRole;
  repo: string;
  revision?: string;
  /** Repository paths or patterns (`unet/*`), as `twinlens pull --files` takes them. */
  files: string[];
  /** The export's folder inside the repository ('' = the root): what `packs import --sd/--clip/--llm` is given. */
  folder?: string;
  /** Approximate download size in bytes. */
  bytes: number;
  /** What the pack gains with it. */
  adds: string;
}

export const BUILTIN_CATALOG: CatalogEntry[] = [
  {
    id: 'sd15',
    title: 'Stable Diffusion 1.5 (fp32, diffusers ONNX)',
    role: 'sd',
    repo: 'onnx-community/stable-diffusion-v1-5-ONNX',
    files: ['model_index.json', 'unet/*', 'text_encoder/*', 'vae_encoder/*', 'tokenizer/*', 'scheduler/*', 'feature_extractor/*'],
    bytes: 4_070_000_000,
    adds: 'Diffusion feature maps, cross-attention per word, the diffusion-reading answer modes (with trained projectors)',
  },
  {
    id: 'clip-b32',
    title: 'CLIP ViT-B/32 vision tower (transformers.js)',
    role: 'clip',
    repo: 'Xenova/clip-vit-base-patch32',
    files: ['onnx/vision_model.onnx', 'preprocessor_config.json', 'config.json'],
    bytes: 352_000_000,
    adds: 'CLIP patch features and PCA maps, the CLIP-reading answer modes (with trained projectors)',
  },
  {
    id: 'llava-qwen-0.5b',
    title: 'LLaVA-Interleave Qwen 0.5B (transformers.js)',
    role: 'llm',
    repo: 'llava-hf/llava-interleave-qwen-0.5b-hf',
    files: [
      'onnx/decoder_model_merged.onnx',
      'onnx/embed_tokens.onnx',
      'onnx/vision_encoder.onnx',
      'config.json',
      'tokenizer.json',
      'tokenizer_config.json',
      'preprocessor_config.json',
    ],
    bytes: 2_900_000_000,
    adds: "The LLM's own answer (native mode) and the language model every trained mode reads with",
  },
];
