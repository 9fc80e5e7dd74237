/**
 * "What did the diffusion model look at": the `features` method with
 * crossAttention on, for the prompt the UNet actually saw (the question,
 * nothing, or the custom text, per the prompt-source knob). Keeps the
 * per-word maps and which word is selected for the large overlay.
 */
import { useCallback, useRef, useState } from 'react';
import type { CrossAttentionMaps } from '../../shared/contract.js';
import { toTwinLensError } from '../../shared/errors.js';
import type { Bridge } from '../bridge/index.js';
import { displayToken, isSpecialToken } from '../lib/format.js';
import { type Knobs, toDiffusionSettings } from './settings.js';

export interface AttentionWord {
  /** Row in maps. */
  index: number;
  label: string;
}

export interface AttentionView {
  status: 'idle' | 'loading' | 'done' | 'error';
  maps?: CrossAttentionMaps;
  words: AttentionWord[];
  prompt?: string;
  error?: string;
  selected: number | undefined;
  select(index: number | undefined): void;
  load(image: { bytes: Uint8Array<ArrayBuffer>; name: string }, prompt: string, knobs: Knobs): Promise<void>;
  reset(): void;
}

const MAX_WORDS = 32;

export function wordsOf(maps: CrossAttentionMaps): AttentionWord[] {
  const words: AttentionWord[] = [];
  maps.tokens.forEach((t, index) => {
    if (!isSpecialToken(t) && words.length < MAX_WORDS) words.push({ index, label: displayToken(t) });
  });
  return words;
}

export function useAttention(bridge: Bridge): AttentionView {
  const [state, setState] = useState<Omit<AttentionView, 'select' | 'load' | 'reset' | 'selected'>>({ status: 'idle', words: [] });
  const [selected, setSelected] = useState<number>();
  const controller = useRef<AbortController | undefined>(undefined);

  const load = useCallback(
    async (image: { bytes: Uint8Array<ArrayBuffer>; name: string }, prompt: string, knobs: Knobs) => {
      controller.current?.abort();
      const c = new AbortController();
      controller.current = c;
      if (!prompt.trim()) {
        setState({ status: 'done', words: [], prompt, maps: undefined });
        return;
      }
      setState((s) => ({ ...s, status: 'loading', prompt, error: undefined }));
      try {
        const { promptSource: _p, customPrompt: _c, ...diffusion } = toDiffusionSettings(knobs);
        const r = await bridge.call('features', { image, prompt, taps: [], diffusion, crossAttention: true }, { signal: c.signal });
        if (controller.current !== c) return;
        const maps = r.crossAttention;
        if (!maps) {
          setState({ status: 'error', words: [], prompt, error: 'This pack returned no cross-attention maps' });
          return;
        }
        setState({ status: 'done', words: wordsOf(maps), maps, prompt });
        setSelected(undefined);
      } catch (e) {
        if (controller.current !== c) return;
        const err = toTwinLensError(e);
        setState({ status: err.code === 'CANCELLED' ? 'idle' : 'error', words: [], prompt, error: err.oneLine() });
      }
    },
    [bridge],
  );

  const reset = useCallback(() => {
    controller.current?.abort();
    controller.current = undefined;
    setState({ status: 'idle', words: [] });
    setSelected(undefined);
  }, []);

  return { ...state, selected, select: setSelected, load, reset };
}
