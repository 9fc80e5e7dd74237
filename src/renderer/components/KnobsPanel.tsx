/**
 * The study's knobs, next to the question: timestep t (t = 50 best, 500
 * collapses), guidance s on features (f_u + s·(f_c − f_u); 0 = unconditional,
 * 4 in the final models), the tap layer, where the SD prompt comes from (the
 * question, nothing, or custom text — the leakage experiment), the noise
 * seed, and the answer length. Untouched knobs show the pack's defaults.
 */
import type { PackInfo } from '../../shared/contract.js';
import { type Knobs, type PromptSourceName, effectiveKnobs } from '../state/settings.js';

interface Props {
  knobs: Knobs;
  pack: PackInfo | undefined;
  autoRerun: boolean;
  onKnobs(patch: Partial<Knobs>): void;
  onAutoRerun(v: boolean): void;
  onReset(): void;
}

const T_PRESETS = [10, 50, 100, 250, 500];

function numOrNull(v: string, min: number, max: number): number | null {
  if (v.trim() === '') return null;
  const n = Number(v);
  return Number.isFinite(n) ? Math.min(max, Math.max(min, n)) : null;
}

function intOrNull(v: string, min: number, max: number): number | null {
  if (v.trim() === '') return null;
  const n = Math.round(Number(v));
  return Number.isFinite(n) ? Math.min(max, Math.max(min, n)) : null;
}

export function KnobsPanel({ knobs, pack, autoRerun, onKnobs, onAutoRerun, onReset }: Props) {
  const k = effectiveKnobs(knobs, pack?.defaults);
  const taps = pack?.taps ?? [];
  const noDiffusion = pack !== undefined && !pack.hasDiffusion;
  return (
    <fieldset className="knobs" disabled={noDiffusion} title={noDiffusion ? 'This pack has no diffusion model' : undefined}>
      <label className="knob knob-t" title="Diffusion timestep of the single UNet pass (study: 50 best, 10–100 good, 500 collapses)">
        <span>t</span>
        <input
          type="range"
          min={0}
          max={999}
          step={1}
          value={k.t}
          aria-label="timestep slider"
          onChange={(e) => onKnobs({ t: Number(e.currentTarget.value) })}
        />
        <input
          type="number"
          min={0}
          max={999}
          value={k.t}
          data-testid="knob-t"
          aria-label="timestep t"
          onChange={(e) => onKnobs({ t: intOrNull(e.currentTarget.value, 0, 999) })}
        />
        <span className="presets">
          {T_PRESETS.map((t) => (
            <button type="button" key={t} className={t === k.t ? 'chip active' : 'chip'} onClick={() => onKnobs({ t })}>
              {t}
            </button>
          ))}
        </span>
      </label>
      <label className="knob" title="Guidance on features: f_u + s·(f_c − f_u). 0 = unconditional; the study's final models use 4">
        <span>s</span>
        <input
          type="number"
          min={-20}
          max={50}
          step={0.5}
          value={k.guidance}
          data-testid="knob-guidance"
          aria-label="guidance s"
          onChange={(e) => {
            const v = e.currentTarget.value;
            onKnobs({ guidance: v === '' || !Number.isFinite(Number(v)) ? null : Math.min(50, Math.max(-20, Number(v))) });
          }}
        />
      </label>
      <label className="knob" title="Which intermediate UNet activation feeds the projector">
        <span>tap</span>
        <select value={k.tap} data-testid="knob-tap" aria-label="tap layer" onChange={(e) => onKnobs({ tap: e.currentTarget.value })}>
          {!taps.some((t) => t.alias === k.tap) && <option value={k.tap}>{k.tap}</option>}
          {[['The study’s layers', taps.filter((t) => t.study)] as const, ['Every tap', taps.filter((t) => !t.study)] as const].map(([label, group]) =>
            group.length === 0 ? null : (
              <optgroup key={label} label={label}>
                {group.map((t) => (
                  <option key={t.alias} value={t.alias} disabled={!t.available} title={t.reason ?? t.tensorName ?? t.target}>
                    {t.study ? '★ ' : ''}
                    {t.alias}
                    {t.available ? '' : ' (unavailable)'}
                  </option>
                ))}
              </optgroup>
            ),
          )}
        </select>
      </label>
      <label className="knob" title="The SD prompt: the question (task-aware), empty (unconditional), or custom text (leakage test)">
        <span>prompt</span>
        <select
          value={k.promptSource}
          data-testid="knob-prompt"
          aria-label="prompt source"
          onChange={(e) => onKnobs({ promptSource: e.currentTarget.value as PromptSourceName })}
        >
          <option value="question">question</option>
          <option value="empty">empty</option>
          <option value="custom">custom…</option>
        </select>
      </label>
      {k.promptSource === 'custom' && (
        <input
          className="knob-custom"
          type="text"
          maxLength={2000}
          value={knobs.customPrompt}
          placeholder="custom SD prompt"
          aria-label="custom prompt"
          data-testid="knob-custom-prompt"
          onChange={(e) => onKnobs({ customPrompt: e.currentTarget.value })}
        />
      )}
      <NumberKnob
        label="seed"
        aria="seed"
        testId="knob-seed"
        title="Seed of the noise added at timestep t"
        min={0}
        max={2 ** 32 - 1}
        value={k.seed}
        onValue={(v) => onKnobs({ seed: v === null ? null : Math.round(v) })}
      />
      <NumberKnob
        label="max"
        aria="max tokens"
        testId="knob-max-tokens"
        title="Longest answer, in tokens (empty = the pack's default)"
        min={1}
        max={4096}
        value={knobs.maxTokens}
        placeholder="auto"
        onValue={(v) => onKnobs({ maxTokens: v === null ? null : Math.round(v) })}
      />
      <NumberKnob
        label="ensemble"
        aria="ensemble"
        testId="knob-ensemble"
        title="Noise draws averaged per diffusion feature (the study used 1; more is smoother and slower)"
        min={1}
        max={8}
        value={k.ensemble}
        onValue={(v) => onKnobs({ ensemble: v === null ? null : Math.round(v) })}
      />
      <NumberKnob
        label="temp"
        aria="temperature"
        testId="knob-temperature"
        title="Sampling temperature: 0 = greedy (the same answer every time)"
        min={0}
        max={2}
        step={0.1}
        value={knobs.temperature ?? null}
        placeholder="0"
        onValue={(v) => onKnobs({ temperature: v })}
      />
      <NumberKnob
        label="top-p"
        aria="top-p"
        testId="knob-top-p"
        title="Nucleus sampling: keep the most likely tokens up to this total probability (1 = all; only with temperature > 0)"
        min={0.05}
        max={1}
        step={0.05}
        value={knobs.topP ?? null}
        placeholder="1"
        onValue={(v) => onKnobs({ topP: v })}
      />
      <label className="knob toggle" title="Re-run the diffusion-based columns when a diffusion knob changes">
        <input type="checkbox" checked={autoRerun} onChange={(e) => onAutoRerun(e.currentTarget.checked)} data-testid="auto-rerun" />
        <span>auto re-run</span>
      </label>
      <button type="button" className="link" onClick={onReset} title="Back to the pack's defaults">
        defaults
      </button>
    </fieldset>
  );
}

interface NumberKnobProps {
  label: string;
  aria: string;
  testId: string;
  title: string;
  min: number;
  max: number;
  step?: number;
  value: number | null;
  placeholder?: string;
  /** The typed number clamped to [min, max], or null when the field is emptied (the default). */
  onValue(v: number | null): void;
}

/** One numeric knob: label, clamped number field, empty = the pack's or the engine's default. */
function NumberKnob({ label, aria, testId, title, min, max, step, value, placeholder, onValue }: NumberKnobProps) {
  return (
    <label className="knob" title={title}>
      <span>{label}</span>
      <input
        type="number"
        min={min}
        max={max}
        step={step}
        value={value ?? ''}
        placeholder={placeholder}
        aria-label={aria}
        data-testid={testId}
        onChange={(e) => onValue(numOrNull(e.currentTarget.value, min, max))}
      />
    </label>
  );
}
