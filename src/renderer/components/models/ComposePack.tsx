/**
 * The Models view's pack composer: folders of published ONNX exports (on the
 * engine's machine) in, a pack folder out — the engine's `composePack`, the
 * same sequence as `twinlens packs import`. Shows the validation checks
 * (✓ / ! / ✗), the answer modes the pack can serve with the reason any
 * cannot, what else it serves (feature maps, cross-attention with SD alone),
 * and offers to open it.
 */
import { useState } from 'react';
import type { ComposePackParams, ComposePackResult } from '../../../shared/contract.js';
import { toTwinLensError } from '../../../shared/errors.js';
import type { Bridge } from '../../bridge/index.js';
import { BrowseButton } from '../BrowseButton.js';

interface Props {
  bridge: Bridge;
  onOpenPack(dir: string): Promise<void>;
}

const FIELDS = [
  { key: 'sd', label: 'Stable Diffusion folder', placeholder: '/models/stable-diffusion-v1-5 (unet/, text_encoder/, vae_encoder/)' },
  { key: 'clip', label: 'CLIP encoder folder', placeholder: '/models/clip-vit (onnx/vision_model.onnx)' },
  { key: 'llm', label: 'LLM folder', placeholder: '/models/llava (onnx/decoder_model_merged.onnx)' },
  { key: 'projectors', label: 'Projectors folder (optional)', placeholder: '/models/projectors' },
  { key: 'trained', label: 'Trained modes folder (optional)', placeholder: '/models/trained (one subfolder per mode: projectors/ + tuned llm/)' },
  { key: 'out', label: 'Output pack folder', placeholder: '/models/my-pack' },
  { key: 'name', label: 'Pack name (optional)', placeholder: 'default: the folder name' },
] as const;

type FieldKey = (typeof FIELDS)[number]['key'];

const MARK = { ok: '✓', warn: '!', error: '✗' } as const;

/** The params for `composePack` from the form's text fields (blank fields left out). */
export function composeParams(values: Partial<Record<FieldKey, string>>, copy: boolean): ComposePackParams | undefined {
  const v = (k: FieldKey) => values[k]?.trim() || undefined;
  const out = v('out');
  if (!out || (!v('sd') && !v('clip') && !v('llm') && !v('trained'))) return undefined;
  const params: ComposePackParams = { out };
  for (const k of ['sd', 'clip', 'llm', 'projectors', 'name'] as const) {
    const x = v(k);
    if (x) params[k] = x;
  }
  const trained = v('trained');
  if (trained) params.trained = [trained];
  if (copy) params.copy = true;
  return params;
}

export function ComposePack({ bridge, onOpenPack }: Props) {
  const [values, setValues] = useState<Partial<Record<FieldKey, string>>>({});
  const [copy, setCopy] = useState(false);
  const [busy, setBusy] = useState(false);
  const [opening, setOpening] = useState(false);
  const [result, setResult] = useState<ComposePackResult>();
  const [error, setError] = useState<{ message: string; hint?: string }>();
  const params = composeParams(values, copy);

  const compose = () => {
    if (!params || busy) return;
    setBusy(true);
    setError(undefined);
    setResult(undefined);
    bridge
      .call('composePack', params)
      .then(
        (r) => setResult(r),
        (e: unknown) => {
          const err = toTwinLensError(e);
          setError({ message: err.message, ...(err.hint ? { hint: err.hint } : {}) });
        },
      )
      .finally(() => setBusy(false));
  };

  return (
    <section className="compose-pack" data-testid="compose-pack">
      <form
        className="field small"
        onSubmit={(e) => {
          e.preventDefault();
          compose();
        }}
      >
        <b>Compose a pack</b>
        <span className="muted">Folders on the engine’s machine; files are hard-linked into the output folder (same disk) unless copied.</span>
        {FIELDS.map((f) => (
          <label key={f.key} className="field">
            {f.label}
            <input
              type="text"
              value={values[f.key] ?? ''}
              placeholder={f.placeholder}
              onChange={(e) => {
                const value = e.currentTarget.value;
                setValues((old) => ({ ...old, [f.key]: value }));
              }}
              data-testid={`compose-${f.key}`}
            />
            <BrowseButton
              bridge={bridge}
              kind="directory"
              title={f.label}
              onPick={(path) => setValues((old) => ({ ...old, [f.key]: path }))}
              testId={`compose-${f.key}-browse`}
            />
          </label>
        ))}
        <label>
          <input type="checkbox" checked={copy} onChange={(e) => setCopy(e.currentTarget.checked)} data-testid="compose-copy" /> copy files instead of hard-linking
        </label>
        <button type="submit" className="primary" disabled={!params || busy} data-testid="compose-run" title={params ? 'Compose and validate the pack' : 'Give an output folder and at least one of the SD, CLIP or LLM folders'}>
          {busy ? 'Composing and validating…' : 'Compose'}
        </button>
      </form>
      {error && (
        <div className="error-text small" role="alert" data-testid="compose-error">
          <p>{error.message}</p>
          {error.hint && <p className="muted">{error.hint}</p>}
        </div>
      )}
      {result && (
        <div className="small" data-testid="compose-result">
          <p>
            <b>{result.name}</b> written to <code>{result.dir}</code> ·{' '}
            <span className={result.usable ? 'ok' : 'error-text'} data-testid="compose-usable">
              {result.usable ? 'usable' : 'NOT usable: fix the ✗ lines'}
            </span>
          </p>
          <ul className="compose-checks" data-testid="compose-checks">
            {result.checks.map((c, i) => (
              <li key={`${c.check}-${i}`} data-status={c.status} className={c.status === 'ok' ? 'ok' : c.status === 'error' ? 'error-text' : undefined}>
                {MARK[c.status]} {c.check}: {c.message}
              </li>
            ))}
          </ul>
          <p>
            <b>Can serve</b>
          </p>
          <ul className="compose-checks" data-testid="compose-modes">
            {result.capabilities.map((c) => (
              <li key={c.id} data-available={c.available}>
                {c.available ? '✓' : '✗'} {c.label}
                {c.reason ? ` — ${c.reason}` : ''}
              </li>
            ))}
            {result.modes.map((m) => (
              <li key={`mode-${m.id}`} data-available={m.available}>
                {m.available ? '✓' : '✗'} answer mode {m.label} <span className="muted">({m.id})</span>
                {m.reason ? ` — ${m.reason}` : ''}
              </li>
            ))}
          </ul>
          {result.warnings.length > 0 && (
            <ul className="compose-checks muted">
              {result.warnings.map((w, i) => (
                <li key={i}>! {w}</li>
              ))}
            </ul>
          )}
          <button
            type="button"
            disabled={!result.usable || opening}
            onClick={() => {
              setOpening(true);
              void onOpenPack(result.dir).finally(() => setOpening(false));
            }}
            data-testid="compose-open"
          >
            {opening ? 'Opening…' : 'Open this pack'}
          </button>
        </div>
      )}
    </section>
  );
}
