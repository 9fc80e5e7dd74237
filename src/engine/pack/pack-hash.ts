/**
 * sha256 of a pack's pack.json: what identifies the pack in results headers,
 * eval summaries and leakage reports (a resumed or merged run must be on the
 * same pack). '' when the folder has no pack.json.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export function packHash(dir: string): string {
  const file = path.join(dir, 'pack.json');
  return fs.existsSync(file) ? createHash('sha256').update(fs.readFileSync(file)).digest('hex') : '';
}
