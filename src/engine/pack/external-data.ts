/**
 * External-data check of a pack's ONNX files, run when the pack is opened:
 * every tensor stored outside a model (weights.pb, model.onnx_data) must name
 * a file inside the pack that exists. ONNX Runtime opens whatever path a
 * model's `location` says, so a hostile or broken pack could otherwise make
 * the engine read any file (`../../../etc/shadow`), or fail much later with
 * a raw runtime error.
 *
 * A model or weights file this user may not read (a pack unpacked by another
 * user, or by root with mode 600) is recorded the same way, with the reason.
 *
 * Models larger than SCAN_LIMIT are skipped: they hold their weights inline
 * (external data exists to keep the .onnx small), and reading them whole
 * here would double the memory and time of opening the pack.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TwinLensError } from '../../shared/errors.js';
import { readGraphIndex } from '../graph/onnx-index.js';
import type { Pack } from './pack.js';

const SCAN_LIMIT = 256 * 1024 * 1024;

/**
 * Throws PACK_PATH_ESCAPE for a location outside the pack (the pack is refused: it is hostile or
 * broken beyond use); records a missing external-data file in `pack.missingExternal` so that only
 * the parts and modes that need that model become unavailable, with the reason.
 */
export async function checkExternalData(pack: Pack): Promise<void> {
  for (const rel of new Set(pack.allPaths().filter((p) => p.endsWith('.onnx')))) {
    let model: string;
    try {
      model = pack.resolve(rel);
    } catch {
      continue; // a missing model is reported by the part that needs it (Engine.build, modes' reasons)
    }
    if (!readable(model)) {
      pack.missingExternal.set(rel, `${rel} is not readable by this user (permission denied)`);
      continue;
    }
    if (fs.statSync(model).size > SCAN_LIMIT) continue;
    const index = await readGraphIndex(model);
    const dir = path.dirname(model);
    for (const loc of index.externalDataFiles) {
      const target = path.join(path.dirname(rel), loc);
      try {
        // ONNX Runtime reports an unreadable weights file as "SystemError : 13" deep in its loader; say it here.
        if (!readable(pack.resolve(target)))
          pack.missingExternal.set(rel, `${rel} stores its weights in "${loc}", which is not readable by this user (permission denied)`);
      } catch (e) {
        const err = e as TwinLensError;
        if (err.code === 'PACK_PATH_ESCAPE') {
          throw new TwinLensError(
            'PACK_PATH_ESCAPE',
            `${rel} stores weights in "${loc}", outside the pack folder`,
            'Re-export the model with its weights beside it; a pack never reads files outside its folder',
          );
        }
        pack.missingExternal.set(rel, `${rel} needs its external data "${loc}", missing from ${dir}`);
      }
    }
  }
}

function readable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.R_OK);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') return false;
    throw e;
  }
}
