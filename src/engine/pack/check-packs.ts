/**
 * `checkPacks`: does each folder still hold a pack that loads? The workbench
 * keeps a list of recently opened packs across restarts; a pack that was
 * moved, deleted or broken since is shown greyed with this reason instead of
 * failing only when clicked. Loading the manifest (schema, paths inside the
 * folder) is enough: no ONNX file is opened, so checking eight packs costs
 * milliseconds.
 */
import type { CheckPacksResult } from '../../shared/contract.js';
import { toTwinLensError } from '../../shared/errors.js';
import { Pack } from './pack.js';

export function checkPacks(dirs: readonly string[]): CheckPacksResult {
  return {
    packs: dirs.map((dir) => {
      try {
        return { dir, ok: true, name: Pack.load(dir).manifest.name };
      } catch (e) {
        return { dir, ok: false, reason: toTwinLensError(e).oneLine() };
      }
    }),
  };
}
