/**
 * Which files a pull fetches and what they must hash to, asked of the Hub
 * through its own client library (@huggingface/hub).
 *
 * Why: `--files unet/model.onnx,unet/weights.pb` names paths; the Hub knows
 * their sizes (for the disk-space check and progress) and hashes (for
 * verification): LFS files carry the sha256 of their content (`lfs.oid`),
 * small files the git blob id (sha1 of "blob <size>\0" + content). Patterns
 * with `*` are expanded against the repository tree. A user-supplied
 * checksum list (sha256sum format) overrides or fills in what the Hub says.
 */
import { listFiles, pathsInfo } from '@huggingface/hub';
import { TwinLensError } from '../../shared/errors.js';

export interface RemoteFile {
  path: string;
  size: number;
  /** sha256 of the content: the LFS oid, or from a checksum list. */
  sha256?: string;
  /** git blob sha1 (non-LFS files). */
  gitOid?: string;
}

export interface HubTarget {
  repo: string;
  revision: string;
  endpoint: string;
  accessToken?: string;
  fetch: typeof fetch;
}

export function repoDesignation(repo: string): { type: 'model' | 'dataset' | 'space'; name: string } {
  const m = /^(?:(models|datasets|spaces)\/)?([\w.-]+\/[\w.-]+)$/.exec(repo);
  if (!m) throw new TwinLensError('INVALID_ARGUMENT', `"${repo}" is not a repository id`, 'Use owner/name, e.g. onnx-community/stable-diffusion-v1-5-ONNX');
  const type = m[1] === 'datasets' ? 'dataset' : m[1] === 'spaces' ? 'space' : 'model';
  return { type, name: m[2] };
}

/** Reads "hash  path" lines (sha256sum output); '#' comments and blank lines are skipped. */
export function parseChecksums(text: string): Map<string, string> {
  const out = new Map<string, string>();
  text.split(/\r?\n/).forEach((line, i) => {
    const t = line.trim();
    if (!t || t.startsWith('#')) return;
    const m = /^([0-9a-fA-F]{64})\s+\*?(.+)$/.exec(t);
    if (!m) throw new TwinLensError('INVALID_ARGUMENT', `checksum line ${i + 1} is not "sha256  path": ${t.slice(0, 80)}`);
    out.set(m[2].trim(), m[1].toLowerCase());
  });
  return out;
}

function globToRegExp(glob: string): RegExp {
  const parts = glob.split('**').map((seg) =>
    seg
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '[^/]*')
      .replace(/\?/g, '[^/]'),
  );
  return new RegExp(`^${parts.join('.*')}$`);
}

function hubError(e: unknown, target: HubTarget, what: string): TwinLensError {
  if ((e as Error)?.name === 'AbortError') return new TwinLensError('CANCELLED', 'The download was cancelled');
  const status = (e as { statusCode?: number }).statusCode;
  const msg = (e as Error)?.message ?? String(e);
  const hint =
    status === 401 || status === 403
      ? 'The repository is gated or private: set HF_TOKEN to a token with access'
      : status === 404
        ? 'Check the repository id, --revision and the file paths'
        : `Check the endpoint (${target.endpoint}) and the network; mirrors are set with --endpoint or HF_ENDPOINT`;
  return new TwinLensError(status === 404 ? 'PACK_NOT_FOUND' : 'DOWNLOAD_FAILED', `${what} failed for ${target.repo}@${target.revision}: ${msg}`, hint, {
    cause: e,
  });
}

/** Expands patterns and asks the Hub for sizes and hashes of every requested file. */
export async function resolveRemoteFiles(target: HubTarget, requested: readonly string[], checksums?: Map<string, string>): Promise<RemoteFile[]> {
  const repo = repoDesignation(target.repo);
  const common = {
    repo,
    revision: target.revision,
    hubUrl: target.endpoint,
    fetch: target.fetch,
    ...(target.accessToken ? { accessToken: target.accessToken } : {}),
  };
  const exact = requested.filter((p) => !/[*?]/.test(p));
  const patterns = requested.filter((p) => /[*?]/.test(p)).map(globToRegExp);
  const found = new Map<string, RemoteFile>();
  const add = (e: { path: string; type: string; size: number; oid?: string; lfs?: { oid: string; size: number } }) => {
    if (e.type !== 'file') return;
    found.set(e.path, { path: e.path, size: e.lfs?.size ?? e.size, ...(e.lfs ? { sha256: e.lfs.oid } : e.oid ? { gitOid: e.oid } : {}) });
  };
  try {
    if (patterns.length) {
      for await (const e of listFiles({ ...common, recursive: true })) if (patterns.some((re) => re.test(e.path))) add(e);
    }
    if (exact.length) for (const e of await pathsInfo({ ...common, paths: exact })) add(e);
  } catch (e) {
    throw hubError(e, target, 'Listing files');
  }
  const missing = exact.filter((p) => !found.has(p));
  if (missing.length) {
    throw new TwinLensError(
      'PACK_FILE_MISSING',
      `${target.repo}@${target.revision} has no ${missing.join(', ')}`,
      'Check the paths (case matters) or list the repository on the Hub',
    );
  }
  for (const re of patterns) {
    if (![...found.keys()].some((p) => re.test(p)))
      throw new TwinLensError('PACK_FILE_MISSING', `No file of ${target.repo}@${target.revision} matches ${re.source}`);
  }
  const files = [...found.values()].sort((a, b) => a.path.localeCompare(b.path));
  for (const f of files) {
    const sum = checksums?.get(f.path);
    if (sum) f.sha256 = sum;
  }
  return files;
}
