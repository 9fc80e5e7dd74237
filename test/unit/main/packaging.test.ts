/**
 * The packaging configuration that can be checked without building an
 * installer: electron-builder.yml parses, validates against the installed
 * electron-builder's own JSON schema for the keys we rely on, and sets the
 * hardening fuses.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { load } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../helpers/fixtures.js';

const config = load(fs.readFileSync(path.join(ROOT, 'electron-builder.yml'), 'utf8')) as Record<string, any>;
const schema = JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', 'app-builder-lib', 'scheme.json'), 'utf8'));

describe('electron-builder.yml', () => {
  it('uses only top-level keys electron-builder knows', () => {
    const known = new Set(Object.keys(schema.properties));
    expect(Object.keys(config).filter((k) => !known.has(k))).toEqual([]);
  });

  it('flips the Electron fuses that close the binary to other uses', () => {
    const fuseKeys = Object.keys(schema.definitions.FuseOptionsV1.properties);
    for (const k of Object.keys(config.electronFuses)) expect(fuseKeys, k).toContain(k);
    expect(config.electronFuses).toMatchObject({
      runAsNode: false,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      enableEmbeddedAsarIntegrityValidation: true,
      onlyLoadAppFromAsar: true,
    });
    expect(config.asar).toBe(true);
  });
});
